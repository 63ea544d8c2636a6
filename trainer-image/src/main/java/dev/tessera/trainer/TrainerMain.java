package dev.tessera.trainer;

import dev.tessera.engine.cpu.VectorApiLauncher;
import dev.tessera.engine.cuda.CudaException;
import dev.tessera.engine.dist.PeerLostException;
import dev.tessera.trainer.pretrain.TrainingStopped;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera-trainer}: the pre-training and fine-tuning worker's command line. */
@Command(
    name = "tessera-trainer",
    mixinStandardHelpOptions = true,
    description = "Tessera pre-training and fine-tuning worker.",
    subcommands = {
      PretrainCommand.class,
      FinetuneCommand.class,
      ExportCommand.class,
      GenerateCommand.class,
      EvaluateCommand.class,
      PlanCommand.class,
      ParamsCommand.class,
      LogitsCommand.class,
      VisionFeaturesCommand.class,
      GpuCheckCommand.class,
      CommandLine.HelpCommand.class
    })
public final class TrainerMain {
  /** Exit code when files could not be read or written. */
  public static final int IO_ERROR = 1;

  /** Exit code when the command line or its input is wrong. */
  public static final int USAGE_ERROR = 2;

  /** Exit code when a run stops itself (for example after too many non-finite steps). */
  public static final int RUN_FAILED = 3;

  /** Exit code when the device asked for (--backend cuda) cannot be opened. */
  public static final int NO_DEVICE = 4;

  /**
   * Exit code when another rank failed, went away or stopped answering: this rank is not the cause,
   * and the run can be retried from its last checkpoint.
   */
  public static final int PEER_LOST = 5;

  public static void main(String[] args) {
    // Kernels need jdk.incubator.vector, which `java -jar` cannot enable from the manifest.
    if (!VectorApiLauncher.relaunchIfNeeded(TrainerMain.class, args)) {
      System.exit(VectorApiLauncher.childExitCode());
    }
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, shared by {@link #main} and tests. */
  public static CommandLine commandLine() {
    return new CommandLine(new TrainerMain())
        .setExecutionExceptionHandler(
            (exception, commandLine, parseResult) -> {
              String message = exception.getMessage();
              if (exception instanceof IllegalArgumentException) {
                commandLine.getErr().println("error: " + message);
                return USAGE_ERROR;
              }
              if (exception instanceof IOException || exception instanceof UncheckedIOException) {
                commandLine.getErr().println("error: " + message);
                return IO_ERROR;
              }
              if (exception instanceof CudaException) {
                commandLine.getErr().println("error: " + message);
                return NO_DEVICE;
              }
              if (exception instanceof PeerLostException || exception instanceof TrainingStopped) {
                commandLine.getErr().println("error: " + message);
                return PEER_LOST;
              }
              if (exception instanceof IllegalStateException) {
                commandLine.getErr().println("error: " + message);
                return RUN_FAILED;
              }
              throw exception;
            });
  }
}
