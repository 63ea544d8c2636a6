package dev.tessera.operator;

import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Leader election on the Lease {@code tessera-operator} in the operator's namespace, so that
 * several replicas (the chart's {@code replicas}) never reconcile at once. Active in the prod
 * profile only ({@code quarkus.operator-sdk.activate-leader-election-for-profiles}).
 */
public class LeaderElection {
  static final String LEASE = "tessera-operator";

  @Produces
  @Singleton
  LeaderElectionConfiguration leaderElection(
      @ConfigProperty(name = "tessera.lease-namespace") Optional<String> namespace) {
    return namespace.isPresent()
        ? new LeaderElectionConfiguration(LEASE, namespace.get())
        : new LeaderElectionConfiguration(LEASE);
  }
}
