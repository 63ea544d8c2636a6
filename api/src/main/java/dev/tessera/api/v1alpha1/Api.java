package dev.tessera.api.v1alpha1;

/** The API group and version of every Tessera resource. */
public final class Api {
  private Api() {}

  public static final String GROUP = "tessera.dev";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;
}
