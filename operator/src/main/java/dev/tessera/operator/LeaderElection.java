package dev.tessera.operator;

import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.util.Optional;

/**
 * Leader election on the Lease {@code tessera-operator} in the operator's namespace, so that
 * several replicas (the chart's {@code replicas}) never reconcile at once. Active in the prod
 * profile only ({@code quarkus.operator-sdk.activate-leader-election-for-profiles}).
 */
public class LeaderElection {
  static final String LEASE = "tessera-operator";

  @Produces
  @Singleton
  LeaderElectionConfiguration leaderElection(OperatorConfig config) {
    Optional<String> namespace = config.leaseNamespace();
    var builder = LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(LEASE);
    namespace.ifPresent(builder::withLeaseNamespace);
    return builder.build();
  }
}
