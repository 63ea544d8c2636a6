package dev.tessera.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Lints and renders charts/tessera with Helm itself (helm-java embeds Helm as a native library) and
 * checks the rendered objects: the RBAC is exactly the contract's, the operator pod is locked down,
 * and the monitoring objects carry the very files the other tests check.
 */
class ChartTest {
  /** Maven runs tests in the module directory, charts/. */
  static final Path CHART = Path.of("tessera");

  static final String RELEASE = "tessera";
  static final String NAMESPACE = "tessera-system";
  static final YAMLMapper YAML = new YAMLMapper();

  static final List<String> KINDS =
      List.of("curationjobs", "packjobs", "pretrainruns", "finetuneruns");

  @Test
  void lintsCleanInStrictMode() {
    LintResult result = new Helm(CHART).lint().strict().call();

    assertThat(result.isFailed()).as("helm lint --strict: %s", result.getMessages()).isFalse();
    // Strict mode already fails on warnings; also keep errors out of the messages themselves.
    assertThat(result.getMessages())
        .noneMatch(m -> m.contains("[ERROR]") || m.contains("[WARNING]"));
  }

  @Test
  void defaultsRenderTheOperatorAndNoMonitoringObjects() throws IOException {
    Rendered rendered = render(null);

    assertThat(rendered.kinds())
        .containsExactlyInAnyOrder(
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service");
  }

  @Test
  void clusterRoleGrantsExactlyTheContractsRules() throws IOException {
    JsonNode role = render(null).one("ClusterRole");

    Map<String, Set<String>> expected = new TreeMap<>();
    for (String kind : KINDS) {
      expected.put("tessera.dev/" + kind, Set.of("get", "list", "watch", "patch", "update"));
      expected.put("tessera.dev/" + kind + "/status", Set.of("get", "patch", "update"));
      expected.put("tessera.dev/" + kind + "/finalizers", Set.of("update", "patch"));
    }
    Set<String> readWrite = Set.of("get", "list", "watch", "create", "delete", "patch", "update");
    expected.put("batch/jobs", readWrite);
    expected.put("/pods", Set.of("get", "list", "watch"));
    expected.put("/services", readWrite);
    expected.put("/configmaps", readWrite);
    expected.put("/serviceaccounts", readWrite);
    expected.put("rbac.authorization.k8s.io/roles", readWrite);
    expected.put("rbac.authorization.k8s.io/rolebindings", readWrite);
    expected.put("/events", Set.of("create", "patch"));
    expected.put("events.k8s.io/events", Set.of("create", "patch"));
    expected.put("apiextensions.k8s.io/customresourcedefinitions", Set.of("get", "list"));

    assertThat(verbsByResource(role)).isEqualTo(expected);
    for (JsonNode rule : role.get("rules")) {
      assertThat(rule.has("resourceNames")).as("no rule is narrowed or widened by name").isFalse();
      assertThat(rule.has("nonResourceURLs")).isFalse();
    }
  }

  @Test
  void noRbacRuleUsesAWildcard() throws IOException {
    Rendered rendered = render(Path.of("src/test/resources/values-everything.yaml"));

    for (JsonNode role : rendered.all("ClusterRole", "Role")) {
      for (JsonNode rule : role.get("rules")) {
        for (String field : List.of("apiGroups", "resources", "verbs", "resourceNames")) {
          for (JsonNode value : rule.path(field)) {
            assertThat(value.asText()).as("%s in %s", field, rule).doesNotContain("*");
          }
        }
      }
    }
  }

  @Test
  void bindingsGrantTheRolesToTheOperatorsServiceAccount() throws IOException {
    Rendered rendered = render(null);
    String account = rendered.one("ServiceAccount").at("/metadata/name").asText();
    JsonNode subject =
        YAML.createObjectNode()
            .put("kind", "ServiceAccount")
            .put("name", account)
            .put("namespace", NAMESPACE);

    JsonNode clusterBinding = rendered.one("ClusterRoleBinding");
    assertThat(clusterBinding.at("/roleRef/name").asText())
        .isEqualTo(rendered.one("ClusterRole").at("/metadata/name").asText());
    assertThat(clusterBinding.get("subjects")).containsExactly(subject);

    JsonNode binding = rendered.one("RoleBinding");
    assertThat(binding.at("/metadata/namespace").asText()).isEqualTo(NAMESPACE);
    assertThat(binding.at("/roleRef/kind").asText()).isEqualTo("Role");
    assertThat(binding.at("/roleRef/name").asText())
        .isEqualTo(rendered.one("Role").at("/metadata/name").asText());
    assertThat(binding.get("subjects")).containsExactly(subject);
    assertThat(rendered.one("Deployment").at("/spec/template/spec/serviceAccountName").asText())
        .isEqualTo(account);
  }

  @Test
  void leaderElectionNeedsOnlyLeasesInTheReleaseNamespace() throws IOException {
    JsonNode role = render(null).one("Role");

    assertThat(role.at("/metadata/namespace").asText()).isEqualTo(NAMESPACE);
    assertThat(verbsByResource(role))
        .isEqualTo(Map.of("coordination.k8s.io/leases", Set.of("get", "create", "update")));
  }

  @Test
  void operatorPodIsLockedDown() throws IOException {
    JsonNode pod = render(null).one("Deployment").at("/spec/template/spec");
    JsonNode container = onlyContainer(pod);

    assertThat(pod.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.at("/securityContext/runAsUser").asInt()).isEqualTo(185);
    assertThat(pod.at("/securityContext/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");

    JsonNode security = container.get("securityContext");
    assertThat(security.get("runAsNonRoot").asBoolean()).isTrue();
    assertThat(security.get("runAsUser").asInt()).isEqualTo(185);
    assertThat(security.get("readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(security.get("allowPrivilegeEscalation").asBoolean()).isFalse();
    assertThat(texts(security.at("/capabilities/drop"))).containsExactly("ALL");
    assertThat(security.has("privileged")).isFalse();
    assertThat(security.at("/capabilities/add").isMissingNode()).isTrue();
    assertThat(security.at("/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");

    // A read-only root needs somewhere to write: an emptyDir at /tmp.
    JsonNode mount = container.at("/volumeMounts/0");
    assertThat(mount.get("mountPath").asText()).isEqualTo("/tmp");
    JsonNode volume = pod.at("/volumes/0");
    assertThat(volume.get("name").asText()).isEqualTo(mount.get("name").asText());
    assertThat(volume.has("emptyDir")).isTrue();
  }

  @Test
  void operatorContainerServesHealthAndMetricsOnPortHttp() throws IOException {
    Rendered rendered = render(null);
    JsonNode deployment = rendered.one("Deployment");
    JsonNode container = onlyContainer(deployment.at("/spec/template/spec"));

    assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(1);
    assertThat(container.get("image").asText())
        .isEqualTo("ghcr.io/tessera-dev/tessera-operator:" + appVersion());
    assertThat(container.at("/ports/0/name").asText()).isEqualTo("http");
    assertThat(container.at("/ports/0/containerPort").asInt()).isEqualTo(8080);
    assertThat(container.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/q/health/live");
    assertThat(container.at("/livenessProbe/httpGet/port").asText()).isEqualTo("http");
    assertThat(container.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/q/health/ready");
    assertThat(container.at("/readinessProbe/httpGet/port").asText()).isEqualTo("http");
    assertThat(container.at("/resources/requests/cpu").asText()).isEqualTo("250m");
    assertThat(container.at("/resources/requests/memory").asText()).isEqualTo("512Mi");
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("1Gi");

    JsonNode service = rendered.one("Service");
    assertThat(service.at("/spec/ports/0/name").asText()).isEqualTo("http");
    assertThat(service.at("/spec/ports/0/port").asInt()).isEqualTo(8080);
    assertThat(service.at("/spec/ports/0/targetPort").asText()).isEqualTo("http");
    // The Service must select the operator pods, or the ServiceMonitor scrapes nothing.
    JsonNode podLabels = deployment.at("/spec/template/metadata/labels");
    service
        .at("/spec/selector")
        .properties()
        .forEach(e -> assertThat(podLabels.path(e.getKey())).isEqualTo(e.getValue()));
    assertThat(deployment.at("/spec/selector/matchLabels")).isEqualTo(service.at("/spec/selector"));
  }

  @Test
  void defaultEnvironmentWatchesAllNamespacesWithTheReleasedWorkers() throws IOException {
    JsonNode container = onlyContainer(render(null).one("Deployment").at("/spec/template/spec"));
    Map<String, String> env = env(container);

    assertThat(env)
        .containsEntry("QUARKUS_OPERATOR_SDK_NAMESPACES", "JOSDK_ALL_NAMESPACES")
        .containsEntry(
            "TESSERA_CURATOR_IMAGE", "ghcr.io/tessera-dev/tessera-curator:" + appVersion())
        .containsEntry(
            "TESSERA_TRAINER_IMAGE", "ghcr.io/tessera-dev/tessera-trainer:" + appVersion())
        .containsEntry(
            "TESSERA_CURATOR_CUDA_IMAGE",
            "ghcr.io/tessera-dev/tessera-curator:" + appVersion() + "-cuda13")
        .containsEntry(
            "TESSERA_TRAINER_CUDA_IMAGE",
            "ghcr.io/tessera-dev/tessera-trainer:" + appVersion() + "-cuda13")
        .containsEntry("TESSERA_WORKER_IMAGE_PULL_SECRETS", "")
        .containsKey("JAVA_TOOL_OPTIONS");
    JsonNode podNamespace = envVar(container, "POD_NAMESPACE");
    assertThat(podNamespace.at("/valueFrom/fieldRef/fieldPath").asText())
        .isEqualTo("metadata.namespace");
  }

  @Test
  void valuesReachTheOperatorsEnvironment() throws IOException {
    Rendered rendered = render(Path.of("src/test/resources/values-everything.yaml"));
    JsonNode deployment = rendered.one("Deployment");
    Map<String, String> env = env(onlyContainer(deployment.at("/spec/template/spec")));

    assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(2);
    assertThat(env)
        .containsEntry("QUARKUS_OPERATOR_SDK_NAMESPACES", "ml-team-a,ml-team-b")
        .containsEntry("TESSERA_CURATOR_IMAGE", "registry.example.com/tessera-curator:0.1.0")
        .containsEntry("TESSERA_TRAINER_IMAGE", "registry.example.com/tessera-trainer:0.1.0")
        .containsEntry(
            "TESSERA_CURATOR_CUDA_IMAGE", "registry.example.com/tessera-curator:0.1.0-cuda")
        .containsEntry(
            "TESSERA_TRAINER_CUDA_IMAGE", "registry.example.com/tessera-trainer:0.1.0-cuda")
        .containsEntry("TESSERA_WORKER_IMAGE_PULL_SECRETS", "regcred,mirror-cred")
        .containsEntry("QUARKUS_LOG_LEVEL", "DEBUG");
  }

  @Test
  void serviceMonitorScrapesMetricsKeepingTheResourcesNamespaceLabel() throws IOException {
    JsonNode monitor =
        render(Path.of("src/test/resources/values-everything.yaml")).one("ServiceMonitor");

    assertThat(monitor.get("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(monitor.at("/metadata/labels/release").asText()).isEqualTo("kube-prometheus-stack");
    JsonNode endpoint = monitor.at("/spec/endpoints/0");
    assertThat(endpoint.get("port").asText()).isEqualTo("http");
    assertThat(endpoint.get("path").asText()).isEqualTo("/q/metrics");
    // Without it the tessera_* namespace label becomes exported_namespace and the alerts break.
    assertThat(endpoint.get("honorLabels").asBoolean()).isTrue();
  }

  @Test
  void prometheusRuleHoldsExactlyTheAlertsFile() throws IOException {
    JsonNode rule =
        render(Path.of("src/test/resources/values-everything.yaml")).one("PrometheusRule");
    JsonNode alertsFile = YAML.readTree(CHART.resolve("files/alerts.yaml").toFile());

    assertThat(rule.get("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(rule.get("spec")).isEqualTo(alertsFile);
    assertThat(rule.at("/spec/groups/0/rules").size()).isEqualTo(AlertRulesTest.ALERT_NAMES.size());
  }

  @Test
  void dashboardConfigMapHoldsTheDashboardAsValidJson() throws IOException {
    JsonNode configMap =
        render(Path.of("src/test/resources/values-everything.yaml")).one("ConfigMap");

    assertThat(configMap.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("1");
    assertThat(configMap.at("/metadata/namespace").asText()).isEqualTo("monitoring");
    assertThat(configMap.at("/metadata/annotations/grafana_folder").asText()).isEqualTo("ML");
    JsonNode data = configMap.get("data");
    assertThat(data.size()).isEqualTo(1);
    JsonNode dashboard = new ObjectMapper().readTree(data.get("tessera.json").asText());
    assertThat(dashboard)
        .isEqualTo(new ObjectMapper().readTree(CHART.resolve("files/dashboard.json").toFile()));
    assertThat(texts(dashboard.get("panels"), "title"))
        .contains(
            "Resources by phase",
            "Progress",
            "Training step",
            "Training loss",
            "Tokens per second",
            "MFU",
            "Restarts and disruptions",
            "Checkpoint age",
            "Curation rejections by reason",
            "Reconciliations per second",
            "Reconcile latency");
  }

  @Test
  void valuesSchemaRejectsBrokenValues() {
    assertThatThrownBy(
            () -> new Helm(CHART).template().withName(RELEASE).set("replicas", "two").call())
        .hasMessageContaining("replicas");
    // A misspelt key is an error, not a silently ignored setting.
    assertThatThrownBy(
            () ->
                new Helm(CHART)
                    .template()
                    .withName(RELEASE)
                    .set("serviceMonitor.enable", "true")
                    .call())
        .hasMessageContaining("enable");
    assertThatThrownBy(
            () ->
                new Helm(CHART)
                    .template()
                    .withName(RELEASE)
                    .set("watchNamespaces", "{Not_A_Namespace}")
                    .call())
        .hasMessageContaining("watchNamespaces");
  }

  @Test
  void valuesAreAllDocumentedAndKnownToTheSchema() throws IOException {
    // Every key has a comment line right above it. A documented key that holds a block (like
    // resources) covers the lines inside it; an undocumented one (like image) must document each
    // of its own keys.
    List<String> lines = Files.readAllLines(CHART.resolve("values.yaml"));
    int coveredIndent = -1;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank() || line.trim().startsWith("#")) {
        continue;
      }
      int indent = line.length() - line.stripLeading().length();
      if (coveredIndent >= 0 && indent > coveredIndent) {
        continue;
      }
      coveredIndent = -1;
      boolean documented = i > 0 && lines.get(i - 1).trim().startsWith("#");
      boolean block = line.trim().endsWith(":");
      if (block) {
        coveredIndent = documented ? indent : -1;
        continue;
      }
      assertThat(documented).as("values.yaml line %d has no comment: %s", i + 1, line).isTrue();
    }
    JsonNode schema = new ObjectMapper().readTree(CHART.resolve("values.schema.json").toFile());
    assertThat(schema.get("additionalProperties").asBoolean(true)).isFalse();
    YAML.readTree(CHART.resolve("values.yaml").toFile())
        .properties()
        .forEach(
            e ->
                assertThat(schema.at("/properties/" + e.getKey()).isMissingNode())
                    .as("values.schema.json describes %s", e.getKey())
                    .isFalse());
  }

  @Test
  void chartShipsTheFourCrdsAsGenerated() throws IOException {
    Set<String> names =
        Set.of(
            "curationjobs.tessera.dev-v1.yml",
            "packjobs.tessera.dev-v1.yml",
            "pretrainruns.tessera.dev-v1.yml",
            "finetuneruns.tessera.dev-v1.yml");
    try (Stream<Path> files = Files.list(CHART.resolve("crds"))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrderElementsOf(names);
    }
    Map<String, String> kindByPlural =
        Map.of(
            "curationjobs", "CurationJob",
            "packjobs", "PackJob",
            "pretrainruns", "PretrainRun",
            "finetuneruns", "FinetuneRun");
    for (String name : names) {
      Path inChart = CHART.resolve("crds").resolve(name);
      // The api module generates ../crds/; the chart's copy must not drift from it.
      assertThat(Files.readAllBytes(inChart))
          .as("charts/tessera/crds/%s equals crds/%s", name, name)
          .isEqualTo(Files.readAllBytes(Path.of("..", "crds", name)));
      JsonNode crd = YAML.readTree(inChart.toFile());
      String plural = name.substring(0, name.indexOf('.'));
      assertThat(crd.get("kind").asText()).isEqualTo("CustomResourceDefinition");
      assertThat(crd.at("/spec/group").asText()).isEqualTo("tessera.dev");
      assertThat(crd.at("/spec/scope").asText()).isEqualTo("Namespaced");
      assertThat(crd.at("/spec/names/plural").asText()).isEqualTo(plural);
      assertThat(crd.at("/spec/names/kind").asText()).isEqualTo(kindByPlural.get(plural));
      assertThat(texts(crd.at("/spec/versions"), "name")).contains("v1alpha1");
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  /**
   * The objects of one `helm template` run. helm-java's template, like `helm template` without
   * --include-crds, never renders crds/, so the CRDs are checked as files instead.
   */
  record Rendered(List<JsonNode> objects) {
    List<String> kinds() {
      return objects.stream().map(o -> o.get("kind").asText()).toList();
    }

    List<JsonNode> all(String... kinds) {
      Set<String> wanted = Set.of(kinds);
      return objects.stream().filter(o -> wanted.contains(o.get("kind").asText())).toList();
    }

    JsonNode one(String kind) {
      List<JsonNode> found = all(kind);
      assertThat(found).as("rendered %s objects", kind).hasSize(1);
      return found.get(0);
    }
  }

  static Rendered render(Path valuesFile) throws IOException {
    var template = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE);
    if (valuesFile != null) {
      template = template.withValuesFile(valuesFile);
    }
    String manifest = template.call();
    List<JsonNode> objects = new ArrayList<>();
    try (var documents = YAML.readerFor(JsonNode.class).<JsonNode>readValues(manifest)) {
      while (documents.hasNext()) {
        JsonNode document = documents.next();
        if (document != null && !document.isNull() && !document.isEmpty()) {
          objects.add(document);
        }
      }
    }
    return new Rendered(objects);
  }

  /** "group/resource" → verbs, over all rules; a resource named by two rules fails the test. */
  static Map<String, Set<String>> verbsByResource(JsonNode role) {
    Map<String, Set<String>> verbs = new TreeMap<>();
    for (JsonNode rule : role.get("rules")) {
      for (String group : texts(rule.get("apiGroups"))) {
        for (String resource : texts(rule.get("resources"))) {
          Set<String> previous =
              verbs.put(group + "/" + resource, new TreeSet<>(texts(rule.get("verbs"))));
          assertThat(previous).as("%s/%s granted by one rule only", group, resource).isNull();
        }
      }
    }
    return verbs;
  }

  static JsonNode onlyContainer(JsonNode podSpec) {
    assertThat(podSpec.get("containers").size()).isEqualTo(1);
    return podSpec.at("/containers/0");
  }

  static JsonNode envVar(JsonNode container, String name) {
    for (JsonNode var : container.get("env")) {
      if (var.get("name").asText().equals(name)) {
        return var;
      }
    }
    throw new AssertionError("no env var " + name + " in " + container.get("env"));
  }

  static Map<String, String> env(JsonNode container) {
    Map<String, String> env = new TreeMap<>();
    for (JsonNode var : container.get("env")) {
      if (var.has("value")) {
        String previous = env.put(var.get("name").asText(), var.get("value").asText());
        assertThat(previous).as("env %s set once", var.get("name")).isNull();
      }
    }
    return env;
  }

  static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.asText()));
    return texts;
  }

  static List<String> texts(JsonNode array, String field) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.path(field).asText()));
    return texts;
  }

  static String appVersion() throws IOException {
    return YAML.readTree(CHART.resolve("Chart.yaml").toFile()).get("appVersion").asText();
  }
}
