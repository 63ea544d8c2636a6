package dev.tessera.api.v1alpha1;

import java.util.List;

/** Builds worker command lines from specs: a flag and its value, when the spec sets the value. */
public final class WorkerFlags {
  private WorkerFlags() {}

  public static void option(List<String> args, String name, Object value) {
    if (value != null) {
      args.add(name);
      args.add(String.valueOf(value));
    }
  }
}
