package dev.tessera.curator;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs {@code tessera-curator} in process and captures what it prints. */
public final class Cli {
  private Cli() {}

  /** Exit code and the text printed to standard output and standard error. */
  public record Outcome(int exitCode, String out, String err) {}

  public static Outcome run(String... args) {
    CommandLine cli = CuratorMain.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute(args);
    return new Outcome(code, out.toString(), err.toString());
  }
}
