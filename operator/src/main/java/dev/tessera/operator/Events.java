package dev.tessera.operator;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/** Kubernetes Events on a resource: what {@code kubectl describe} shows next to its status. */
final class Events {
  private static final Logger LOG = Logger.getLogger(Events.class);
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private Events() {}

  static void record(
      KubernetesClient client, HasMetadata resource, String type, String reason, String message) {
    String now = Instant.now().toString();
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withName(
                resource.getMetadata().getName()
                    + "."
                    + Long.toHexString(System.currentTimeMillis())
                    + Long.toHexString(SEQUENCE.incrementAndGet()))
            .withNamespace(resource.getMetadata().getNamespace())
            .endMetadata()
            .withNewInvolvedObject()
            .withApiVersion(resource.getApiVersion())
            .withKind(resource.getKind())
            .withName(resource.getMetadata().getName())
            .withNamespace(resource.getMetadata().getNamespace())
            .withUid(resource.getMetadata().getUid())
            .endInvolvedObject()
            .withType(type)
            .withReason(reason)
            .withMessage(message)
            .withFirstTimestamp(now)
            .withLastTimestamp(now)
            .withCount(1)
            .withNewSource()
            .withComponent("tessera-operator")
            .endSource()
            .build();
    try {
      client
          .v1()
          .events()
          .inNamespace(resource.getMetadata().getNamespace())
          .resource(event)
          .create();
    } catch (KubernetesClientException e) {
      // Events are a courtesy; the status carries the same reason.
      LOG.debugf("event not recorded: %s", e.getMessage());
    }
    LOG.infof(
        "%s %s/%s: %s: %s",
        resource.getKind(),
        resource.getMetadata().getNamespace(),
        resource.getMetadata().getName(),
        reason,
        message);
  }
}
