package dev.tessera.cli;

/** A problem with the pipeline, said in one line that names the file and the field. */
public final class PipelineError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public PipelineError(String message) {
    super(message);
  }
}
