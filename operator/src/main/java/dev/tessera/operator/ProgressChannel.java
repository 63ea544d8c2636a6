package dev.tessera.operator;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import java.util.List;

/**
 * The progress channel of one resource (DESIGN.md §4): a ConfigMap the worker pods write their
 * reports into, a ServiceAccount for those pods, and a Role that lets them update that ConfigMap
 * and nothing else. The operator is the only writer of the resource's status.
 */
final class ProgressChannel {
  private ProgressChannel() {}

  static String configMapName(HasMetadata owner) {
    return owner.getMetadata().getName() + "-progress";
  }

  static String serviceAccountName(HasMetadata owner) {
    return owner.getMetadata().getName() + "-worker";
  }

  /** The four objects, ConfigMap last: its presence means the channel is complete. */
  static List<HasMetadata> desired(HasMetadata owner) {
    String namespace = owner.getMetadata().getNamespace();
    String configMap = configMapName(owner);
    String account = serviceAccountName(owner);
    var serviceAccount =
        new ServiceAccountBuilder().withMetadata(childMetadata(owner, account)).build();
    var role =
        new RoleBuilder()
            .withMetadata(childMetadata(owner, configMap))
            .withRules(
                new PolicyRuleBuilder()
                    .withApiGroups("")
                    .withResources("configmaps")
                    .withResourceNames(configMap)
                    .withVerbs("get", "patch", "update")
                    .build())
            .build();
    var binding =
        new RoleBindingBuilder()
            .withMetadata(childMetadata(owner, configMap))
            .withNewRoleRef()
            .withApiGroup("rbac.authorization.k8s.io")
            .withKind("Role")
            .withName(configMap)
            .endRoleRef()
            .addNewSubject()
            .withKind("ServiceAccount")
            .withName(account)
            .withNamespace(namespace)
            .endSubject()
            .build();
    var progress = new ConfigMapBuilder().withMetadata(childMetadata(owner, configMap)).build();
    return List.of(serviceAccount, role, binding, progress);
  }

  /** Metadata of a child of {@code owner}: its namespace, labels and controller reference. */
  static ObjectMeta childMetadata(HasMetadata owner, String name) {
    return new ObjectMetaBuilder()
        .withName(name)
        .withNamespace(owner.getMetadata().getNamespace())
        .withLabels(Labels.of(owner))
        .withOwnerReferences(ownerReference(owner))
        .build();
  }

  static OwnerReference ownerReference(HasMetadata owner) {
    return new OwnerReferenceBuilder()
        .withApiVersion(owner.getApiVersion())
        .withKind(owner.getKind())
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }
}
