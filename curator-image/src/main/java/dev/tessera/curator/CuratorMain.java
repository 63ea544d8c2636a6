package dev.tessera.curator;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera-curator}: the curation and packing worker's command line. */
@Command(
    name = "tessera-curator",
    mixinStandardHelpOptions = true,
    versionProvider = CuratorMain.Version.class,
    description = "Tessera curation and packing worker.",
    subcommands = {CommandLine.HelpCommand.class, SynthCommand.class})
public final class CuratorMain {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, shared by {@link #main} and tests. */
  public static CommandLine commandLine() {
    return new CommandLine(new CuratorMain());
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = CuratorMain.class.getPackage().getImplementationVersion();
      return new String[] {"tessera-curator " + (version == null ? "dev" : version)};
    }
  }
}
