package dev.tessera.curator.pack;

/** The pack run cannot start or continue as asked; the message says why and what to do. */
public final class PackException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public PackException(String message) {
    super(message);
  }
}
