package dev.tessera.curator;

import dev.tessera.engine.cpu.VectorApiLauncher;
import dev.tessera.engine.cuda.CudaException;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera-curator}: the curation and packing worker's command line. */
@Command(
    name = "tessera-curator",
    mixinStandardHelpOptions = true,
    versionProvider = CuratorMain.Version.class,
    description = "Tessera curation and packing worker.",
    subcommands = {
      SynthCommand.class,
      PackCommand.class,
      CurateCommand.class,
      InspectCommand.class,
      CommandLine.HelpCommand.class
    })
public final class CuratorMain {
  /** Exit code when files could not be read or written. */
  public static final int IO_ERROR = 1;

  /** Exit code when the command line or its input is wrong. */
  public static final int USAGE_ERROR = 2;

  /** Exit code when the device asked for (--backend cuda) cannot be opened. */
  public static final int NO_DEVICE = 4;

  public static void main(String[] args) {
    // The scorers' and packer's kernels need jdk.incubator.vector, which `java -jar` cannot
    // enable from the manifest.
    if (!VectorApiLauncher.relaunchIfNeeded(CuratorMain.class, args)) {
      System.exit(VectorApiLauncher.childExitCode());
    }
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, shared by {@link #main} and tests. */
  public static CommandLine commandLine() {
    return new CommandLine(new CuratorMain())
        .setExecutionExceptionHandler(
            (exception, commandLine, parseResult) -> {
              if (exception instanceof UserError) {
                commandLine.getErr().println("error: " + exception.getMessage());
                return USAGE_ERROR;
              }
              if (exception instanceof CudaException) {
                commandLine.getErr().println("error: " + exception.getMessage());
                return NO_DEVICE;
              }
              if (exception instanceof IOException || exception instanceof UncheckedIOException) {
                commandLine.getErr().println("error: " + exception);
                return IO_ERROR;
              }
              throw exception;
            });
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = CuratorMain.class.getPackage().getImplementationVersion();
      return new String[] {"tessera-curator " + (version == null ? "dev" : version)};
    }
  }
}
