package dev.tessera.trainer;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs {@code tessera-trainer} commands in the test's JVM, capturing what they print. */
public final class TrainerCli {
  private TrainerCli() {}

  /** A command's exit code and its standard output and error. */
  public record Outcome(int exitCode, String out, String err) {}

  public static Outcome run(String... args) {
    CommandLine cli = TrainerMain.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return new Outcome(cli.execute(args), out.toString(), err.toString());
  }
}
