package dev.tessera.operator;

import dev.tessera.api.v1alpha1.WorkloadSpec;
import java.util.List;

/** The storage volume is optional for the local runner and required on a cluster. */
final class Storage {
  private Storage() {}

  static void require(WorkloadSpec spec, List<String> problems) {
    if (spec != null && (spec.storage == null || spec.storage.claimName == null)) {
      problems.add(
          "spec.storage.claimName is required on a cluster: the PersistentVolumeClaim that holds"
              + " the data, outputs and checkpoints");
    }
  }
}
