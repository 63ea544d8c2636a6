package dev.tessera.cli;

/** A problem with the pipeline, said in one line that names the file and the field. */
public final class PipelineError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public PipelineError(String message) {
    // Parsers' messages span lines; one line reads better in a terminal and a CI log.
    super(message.replaceAll("\\s*\\R\\s*", " ").strip());
  }
}
