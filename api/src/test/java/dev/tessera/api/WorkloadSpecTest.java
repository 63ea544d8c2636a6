package dev.tessera.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.CurationJobSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import org.junit.jupiter.api.Test;

class WorkloadSpecTest {
  @Test
  void gpusAreAskedForByALimitOrARequestAboveZero() {
    CurationJobSpec spec = new CurationJobSpec();
    assertThat(spec.asksForGpus()).isFalse();
    spec.resources =
        new ResourceRequirementsBuilder().addToLimits("cpu", new Quantity("4")).build();
    assertThat(spec.asksForGpus()).isFalse();
    spec.resources =
        new ResourceRequirementsBuilder().addToLimits("nvidia.com/gpu", new Quantity("0")).build();
    assertThat(spec.asksForGpus()).isFalse();
    spec.resources =
        new ResourceRequirementsBuilder().addToLimits("nvidia.com/gpu", new Quantity("1")).build();
    assertThat(spec.asksForGpus()).isTrue();
    spec.resources =
        new ResourceRequirementsBuilder()
            .addToRequests("nvidia.com/gpu", new Quantity("2"))
            .build();
    assertThat(spec.asksForGpus()).isTrue();
  }
}
