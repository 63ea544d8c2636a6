package dev.tessera.trainer.pretrain;

/**
 * Training stopped early on request ({@link StopRequest}), every rank at the same step, with a
 * checkpoint written there: starting the run again continues from it.
 */
public final class TrainingStopped extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  TrainingStopped(String message) {
    super(message);
  }
}
