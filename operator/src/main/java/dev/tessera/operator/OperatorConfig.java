package dev.tessera.operator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The operator's settings ({@code tessera.*} in application.properties, or env). */
@ConfigMapping(prefix = "tessera")
public interface OperatorConfig {
  /** Default worker images, when a resource does not name its own. */
  Images images();

  /** How often a resource waiting on its input looks again. */
  @WithDefault("10s")
  Duration waitingPoll();

  /** How often the per-resource metrics are rebuilt from the informer caches. */
  @WithDefault("15s")
  Duration metricsRefresh();

  /** Namespace of the leader-election Lease; default: the client's (the pod's) namespace. */
  Optional<String> leaseNamespace();

  /**
   * Secrets the worker pods pull their image with, when a resource names none
   * (spec.imagePullSecrets): names, looked up in each resource's namespace.
   */
  Optional<List<String>> workerImagePullSecrets();

  interface Images {
    String curator();

    String trainer();

    /**
     * The curator with CUDA 13's libraries, for the score stage of a CurationJob that asks for GPUs
     * (the other stages run on the CPU image).
     */
    String curatorCuda();

    /** The trainer with CUDA 13's libraries, for runs that ask for GPUs. */
    String trainerCuda();
  }
}
