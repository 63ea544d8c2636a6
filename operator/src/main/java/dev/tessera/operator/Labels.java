package dev.tessera.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.SecondaryToPrimaryMapper;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** The labels on everything the operator creates: they tie a child back to its resource. */
public final class Labels {
  private Labels() {}

  public static final String KIND = "tessera.dev/kind";
  public static final String NAME = "tessera.dev/name";
  public static final String STAGE = "tessera.dev/stage";
  public static final String ATTEMPT = "tessera.dev/attempt";
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String KUEUE_QUEUE = "kueue.x-k8s.io/queue-name";

  /** Annotation on a child Job: the work spec it was created from, to detect later changes. */
  public static final String WORK_SPEC = "tessera.dev/work-spec";

  /** The labels of every child of {@code owner}. */
  public static Map<String, String> of(HasMetadata owner) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(MANAGED_BY, "tessera-operator");
    labels.put(KIND, owner.getKind());
    labels.put(NAME, owner.getMetadata().getName());
    return labels;
  }

  /** Informer selector for the children of one kind. */
  public static String selectorFor(String kind) {
    return KIND + "=" + kind;
  }

  /** Maps a child to its resource through the name label. */
  public static <T extends HasMetadata> SecondaryToPrimaryMapper<T> toOwner() {
    return child -> {
      Map<String, String> labels = child.getMetadata().getLabels();
      String name = labels == null ? null : labels.get(NAME);
      return name == null
          ? Set.of()
          : Set.of(new ResourceID(name, child.getMetadata().getNamespace()));
    };
  }
}
