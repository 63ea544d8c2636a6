package dev.tessera.cli;

import dev.tessera.engine.cpu.VectorApiLauncher;
import dev.tessera.engine.cuda.CudaBackend;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.IntSupplier;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera}: the same resources as on a cluster, run on this machine. */
@Command(
    name = "tessera",
    mixinStandardHelpOptions = true,
    version = "tessera 0.1.0",
    description =
        "Runs Tessera resources (CurationJob, PackJob, PretrainRun, FinetuneRun) locally.",
    subcommands = {
      TesseraMain.Run.class,
      TesseraMain.Status.class,
      TesseraMain.Logs.class,
      TesseraMain.Generate.class,
      TesseraMain.Report.class
    })
public final class TesseraMain {
  /** Exit code of a pipeline that could not start: bad YAML, unknown kind, missing input. */
  public static final int PIPELINE_ERROR = 2;

  /** The GPUs CUDA sees here, looked up once and only when a stage asks for GPUs. */
  private static final IntSupplier GPUS =
      new IntSupplier() {
        private Integer count;

        @Override
        public synchronized int getAsInt() {
          if (count == null) {
            count = CudaBackend.deviceCount();
          }
          return count;
        }
      };

  public static void main(String[] args) {
    // The trainer needs the Vector API; java -jar cannot add the module from the manifest.
    if (!VectorApiLauncher.relaunchIfNeeded(TesseraMain.class, args)) {
      System.exit(VectorApiLauncher.childExitCode());
    }
    System.exit(commandLine(System.out).execute(args));
  }

  /** The command line, printing to {@code out}; shared by {@link #main} and tests. */
  public static CommandLine commandLine(PrintStream out) {
    CommandLine cli = new CommandLine(new TesseraMain(), new Factory(out));
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          if (e instanceof PipelineError) {
            commandLine.getErr().println("error: " + e.getMessage());
            return PIPELINE_ERROR;
          }
          throw e;
        });
    return cli;
  }

  /** Hands the output stream to the subcommands. */
  private record Factory(PrintStream out) implements CommandLine.IFactory {
    @Override
    public <K> K create(Class<K> type) throws Exception {
      if (type == Run.class) {
        return type.cast(new Run(out));
      }
      if (type == Status.class) {
        return type.cast(new Status(out));
      }
      if (type == Logs.class) {
        return type.cast(new Logs(out));
      }
      if (type == Generate.class) {
        return type.cast(new Generate(out));
      }
      if (type == Report.class) {
        return type.cast(new Report(out));
      }
      return CommandLine.defaultFactory().create(type);
    }
  }

  /** Where a pipeline's volume goes by default: {@code work/<directory or file name>}. */
  static Path defaultVolume(Path pipeline) {
    Path name = pipeline.toAbsolutePath().normalize().getFileName();
    String base = name == null ? "pipeline" : name.toString().replaceAll("\\.ya?ml$", "");
    return Path.of("work", base);
  }

  @Command(
      name = "run",
      description = "Run the resources of a directory or file, in the order of their inputs.")
  static final class Run implements Callable<Integer> {
    private final PrintStream out;

    @Parameters(paramLabel = "PATH", description = "A directory or YAML file of Tessera resources.")
    Path pipeline;

    @Option(
        names = "--volume",
        paramLabel = "DIR",
        description =
            "The directory standing in for the storage volume (default: work/<PATH's name>).")
    Path volume;

    @Option(
        names = "--copy",
        paramLabel = "NAME=FILE",
        description =
            "Put FILE on the volume as NAME first, when NAME is not there (as kubectl cp would to the claim).")
    List<String> copies = new ArrayList<>();

    @Option(
        names = "--fresh",
        description =
            "Forget what ran on the volume before (the workers still skip finished work).")
    boolean fresh;

    @Option(names = "--no-report", description = "Do not write report.html at the end.")
    boolean noReport;

    @Option(
        names = "--rerun",
        paramLabel = "NAME",
        description =
            "Run NAME again from scratch, with every stage that reads its output: their output"
                + " directories are removed first. Repeatable.")
    List<String> rerun = new ArrayList<>();

    @Option(
        names = "--dry-run",
        description =
            "Print what would run: the stages in order, which already succeeded, each input's"
                + " source and each worker's command. Runs nothing and writes nothing.")
    boolean dryRun;

    Run(PrintStream out) {
      this.out = out;
    }

    @Override
    public Integer call() throws Exception {
      Pipeline loaded = Pipeline.load(pipeline, out);
      Path dir = volume != null ? volume : defaultVolume(pipeline);
      if (dryRun) {
        LocalState state = fresh ? LocalState.empty(dir) : LocalState.open(dir);
        Set<String> again = new HashSet<>();
        loaded.withDependents(rerun).forEach(stage -> again.add(stage.id()));
        return new DryRun(dir, state, copyFiles(dir, false), again, GPUS, out).print(loaded);
      }
      Files.createDirectories(dir);
      // Everything that writes to the volume happens under its lock: one run at a time.
      VolumeLock lock = VolumeLock.acquire(dir.toAbsolutePath().normalize());
      try {
        copyFiles(dir, true);
        LocalRunner runner = new LocalRunner(dir, out, fresh);
        runner.rerun(loaded.withDependents(rerun));
        runner.warnAboutGpus(loaded, GPUS);
        int code = runner.run(loaded);
        if (!noReport) {
          Path report = HtmlReport.write(dir, loaded, runner.state());
          out.println("report: " + report);
        }
        return code;
      } finally {
        lock.close();
      }
    }

    /**
     * The {@code --copy NAME=FILE} files, each unless NAME is already on the volume: copied when
     * {@code write}, else only checked. Returns the names to be copied.
     */
    private Set<String> copyFiles(Path dir, boolean write) throws IOException {
      Set<String> names = new HashSet<>();
      for (String copy : copies) {
        String[] kv = copy.split("=", 2);
        if (kv.length != 2) {
          throw new PipelineError("--copy " + copy + ": expected NAME=FILE");
        }
        Path target = dir.resolve(kv[0]);
        if (!Files.exists(target)) {
          if (!Files.isRegularFile(Path.of(kv[1]))) {
            throw new PipelineError("--copy " + copy + ": no file " + kv[1]);
          }
          names.add(kv[0]);
          if (write) {
            Files.createDirectories(target.toAbsolutePath().getParent());
            Files.copy(Path.of(kv[1]), target);
          }
        }
      }
      return names;
    }
  }

  @Command(name = "status", description = "What ran, as kubectl get shows it.")
  static final class Status implements Callable<Integer> {
    private final PrintStream out;

    @Parameters(
        arity = "0..1",
        paramLabel = "NAME",
        description = "Only this resource (and its conditions).")
    String name;

    @Option(
        names = "--volume",
        paramLabel = "DIR",
        description = "A volume (default: every one under work/).")
    Path volume;

    Status(PrintStream out) {
      this.out = out;
    }

    @Override
    public Integer call() throws Exception {
      return StatusTable.print(out, volumes(volume), name);
    }
  }

  /** {@code volume}, or every volume under {@code work/} that something ran on. */
  static List<Path> volumes(Path volume) throws IOException {
    List<Path> volumes = new ArrayList<>();
    if (volume != null) {
      volumes.add(volume);
    } else if (Files.isDirectory(Path.of("work"))) {
      try (Stream<Path> dirs = Files.list(Path.of("work"))) {
        dirs.filter(d -> Files.exists(LocalState.fileOf(d))).sorted().forEach(volumes::add);
      }
    }
    return volumes;
  }

  /** A resource that ran locally, by name, and the volume to look on. */
  static final class NamedStage {
    @Parameters(paramLabel = "NAME", description = "The resource's name.")
    String name;

    @Option(
        names = "--volume",
        paramLabel = "DIR",
        description = "The volume (default: the one under work/ where NAME ran).")
    Path volume;

    StageLogs.Found find() throws IOException {
      return StageLogs.find(volumes(volume), name);
    }
  }

  @Command(name = "logs", description = "A stage's worker output, as kubectl logs shows a pod's.")
  static final class Logs implements Callable<Integer> {
    private final PrintStream out;

    @Mixin NamedStage stage;

    @Option(
        names = {"-f", "--follow"},
        description = "Go on printing the worker's output until the stage stops running.")
    boolean follow;

    @Option(
        names = "--tail",
        paramLabel = "N",
        description = "Only the last N lines (default: all).")
    int tail = -1;

    Logs(PrintStream out) {
      this.out = out;
    }

    @Override
    public Integer call() throws Exception {
      return StageLogs.print(out, stage.find(), tail, follow);
    }
  }

  @Command(
      name = "generate",
      description =
          "Ask a PretrainRun or FinetuneRun that ran here about an image: its newest checkpoint,"
              + " with the tokenizer and layout it was trained with.")
  static final class Generate implements Callable<Integer> {
    private final PrintStream out;

    @Mixin NamedStage stage;

    @Option(names = "--image", paramLabel = "FILE", description = "The image to ask about.")
    Path image;

    @Option(
        names = "--prompt",
        paramLabel = "TEXT",
        description = "The caption's start, or a FinetuneRun's question.")
    String prompt;

    @Option(
        names = "--max-tokens",
        paramLabel = "N",
        description = "The most tokens to write (default: 64).")
    Integer maxTokens;

    @Option(
        names = "--temperature",
        paramLabel = "T",
        description = "0 for the most likely tokens (default), above 0 to sample.")
    Double temperature;

    @Option(names = "--seed", paramLabel = "S", description = "The sampler's seed.")
    Long seed;

    Generate(PrintStream out) {
      this.out = out;
    }

    @Override
    public Integer call() throws Exception {
      List<String> options = new ArrayList<>();
      if (image != null) {
        options.addAll(List.of("--image", image.toAbsolutePath().toString()));
      }
      if (prompt != null) {
        options.addAll(List.of("--prompt", prompt));
      }
      if (maxTokens != null) {
        options.addAll(List.of("--max-tokens", maxTokens.toString()));
      }
      if (temperature != null) {
        options.addAll(List.of("--temperature", temperature.toString()));
      }
      if (seed != null) {
        options.addAll(List.of("--seed", seed.toString()));
      }
      return GenerateArgs.run(out, GenerateArgs.of(stage.find(), options));
    }
  }

  @Command(name = "report", description = "Rebuild VOLUME/report.html from what ran there.")
  static final class Report implements Callable<Integer> {
    private final PrintStream out;

    @Parameters(
        paramLabel = "VOLUME",
        description = "The volume a pipeline ran on (e.g. work/quickstart).")
    Path volume;

    @Option(
        names = "--pipeline",
        paramLabel = "PATH",
        description = "The resources, for their order and specs (default: the state's).")
    Path pipeline;

    Report(PrintStream out) {
      this.out = out;
    }

    @Override
    public Integer call() throws Exception {
      if (!Files.exists(LocalState.fileOf(volume))) {
        throw new PipelineError(
            volume + ": nothing ran here (no " + LocalState.fileOf(volume) + ")");
      }
      Pipeline loaded = pipeline == null ? null : Pipeline.load(pipeline, out);
      out.println("report: " + HtmlReport.write(volume, loaded, LocalState.open(volume)));
      return 0;
    }
  }
}
