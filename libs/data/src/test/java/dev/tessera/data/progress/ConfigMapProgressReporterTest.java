package dev.tessera.data.progress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ConfigMap reporter against a stand-in API server that records what it is sent: one merge
 * patch of this pod's key per report, the token as it is now, throttling as in the file reporter,
 * and failures that never reach the worker.
 */
class ConfigMapProgressReporterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PATH = "/api/v1/namespaces/team-a/configmaps/run-1-progress";

  @TempDir Path dir;

  /** A request as the server saw it. */
  record Request(
      String method, String path, String contentType, String authorization, byte[] body) {
    JsonNode patch() throws IOException {
      return JSON.readTree(body);
    }

    /** The report inside the patch, under {@code key}. */
    JsonNode report(String key) throws IOException {
      return JSON.readTree(patch().path("data").path(key).asText());
    }
  }

  /** Records requests and answers each with {@link #status}. */
  private static final class ApiServer implements AutoCloseable {
    final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    volatile int status = 200;
    final HttpServer server;

    ApiServer(HttpServer server) {
      this.server = server;
      server.createContext("/", this::handle);
      server.start();
    }

    static ApiServer plain(int port) throws IOException {
      return new ApiServer(
          HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0));
    }

    private void handle(HttpExchange exchange) throws IOException {
      byte[] body;
      try (InputStream in = exchange.getRequestBody()) {
        body = in.readAllBytes();
      }
      requests.add(
          new Request(
              exchange.getRequestMethod(),
              exchange.getRequestURI().getPath(),
              exchange.getRequestHeaders().getFirst("Content-Type"),
              exchange.getRequestHeaders().getFirst("Authorization"),
              body));
      byte[] answer = "{\"kind\":\"ConfigMap\"}".getBytes(StandardCharsets.UTF_8);
      // A fresh connection per request, so a restarted server is never sent to a dead one.
      exchange.getResponseHeaders().add("Connection", "close");
      exchange.sendResponseHeaders(status, answer.length);
      exchange.getResponseBody().write(answer);
      exchange.close();
    }

    int port() {
      return server.getAddress().getPort();
    }

    Request last() {
      return requests.get(requests.size() - 1);
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }

  private final List<AutoCloseable> servers = new ArrayList<>();

  @AfterEach
  void stopServers() throws Exception {
    for (AutoCloseable server : servers) {
      server.close();
    }
  }

  private ApiServer server(int port) throws IOException {
    ApiServer server = ApiServer.plain(port);
    servers.add(server);
    return server;
  }

  private Path token(String value) throws IOException {
    return Files.writeString(dir.resolve("token"), value + "\n");
  }

  private ConfigMapProgressReporter.Target target(URI api, Path token) {
    return new ConfigMapProgressReporter.Target(
        api, token, null, "team-a", "run-1-progress", "progress-3.json");
  }

  private ConfigMapProgressReporter reporter(int port, ManualClock clock) throws IOException {
    return new ConfigMapProgressReporter(
        target(URI.create("http://127.0.0.1:" + port), token("secret-1")),
        "CurationJob",
        clock,
        Duration.ofSeconds(2));
  }

  @Test
  void eachReportMergePatchesThisPodsKeyOnly() throws IOException {
    ApiServer api = server(0);
    ConfigMapProgressReporter reporter = reporter(api.port(), new ManualClock());
    reporter.progress(Map.of("phase", "score", "done", 2, "total", 5));

    assertThat(api.requests).hasSize(1);
    Request request = api.last();
    assertThat(request.method()).isEqualTo("PATCH");
    assertThat(request.path()).isEqualTo(PATH);
    assertThat(request.contentType()).isEqualTo("application/merge-patch+json");
    assertThat(request.authorization()).isEqualTo("Bearer secret-1");
    JsonNode patch = request.patch();
    assertThat(patch.fieldNames()).toIterable().containsExactly("data");
    assertThat(patch.path("data").fieldNames()).toIterable().containsExactly("progress-3.json");
    assertThat(patch.path("data").path("progress-3.json").isTextual()).isTrue();
    JsonNode report = request.report("progress-3.json");
    assertThat(report.path("version").asLong()).isEqualTo(1);
    assertThat(report.path("kind").asText()).isEqualTo("CurationJob");
    assertThat(report.path("phase").asText()).isEqualTo("Running");
    assertThat(report.path("progress").path("phase").asText()).isEqualTo("score");
    assertThat(report.path("progress").path("done").asInt()).isEqualTo(2);
    assertThat(report.path("progress").path("total").asInt()).isEqualTo(5);
    assertThat(report.path("updated").asText()).isEqualTo("1970-01-01T00:00:00Z");

    reporter.phase("Succeeded", "curate score");
    JsonNode done = api.last().report("progress-3.json");
    assertThat(done.path("version").asLong()).isEqualTo(2);
    assertThat(done.path("phase").asText()).isEqualTo("Succeeded");
    assertThat(done.path("message").asText()).isEqualTo("curate score");
    assertThat(done.path("progress").path("done").asInt()).isEqualTo(2);
  }

  @Test
  void theValueIsTheDocumentTheFileReporterWrites() throws IOException {
    ApiServer api = server(0);
    ManualClock clock = new ManualClock();
    clock.millis = 1_700_000_000_123L;
    ConfigMapProgressReporter toConfigMap = reporter(api.port(), clock);
    Path file = dir.resolve("progress.json");
    FileProgressReporter toFile =
        new FileProgressReporter(file, "CurationJob", clock, Duration.ofSeconds(2));
    for (JsonProgressReporter reporter : List.of(toConfigMap, toFile)) {
      reporter.progress(Map.of("step", 7, "loss", 2.5));
      reporter.checkpoint(Map.of("step", 7, "path", "checkpoints/step-00000007"));
    }
    assertThat(api.requests).hasSize(2);
    assertThat(api.last().patch().path("data").path("progress-3.json").asText())
        .isEqualTo(Files.readString(file));
  }

  @Test
  void throttlesProgressButSendsPhasesAndCheckpointsAtOnce() throws IOException {
    ApiServer api = server(0);
    ManualClock clock = new ManualClock();
    ConfigMapProgressReporter reporter = reporter(api.port(), clock);
    reporter.progress(Map.of("step", 1));
    clock.millis += 500;
    reporter.progress(Map.of("step", 2));
    clock.millis += 1000;
    reporter.progress(Map.of("step", 3));
    assertThat(api.requests).as("throttled within the interval").hasSize(1);

    reporter.checkpoint(Map.of("step", 3, "path", "checkpoints/step-00000003"));
    assertThat(api.requests).hasSize(2);
    JsonNode checkpoint = api.last().report("progress-3.json");
    assertThat(checkpoint.path("progress").path("step").asInt()).isEqualTo(3);
    assertThat(checkpoint.path("latestCheckpoint").path("path").asText())
        .isEqualTo("checkpoints/step-00000003");

    reporter.phase("Running", "resharding");
    assertThat(api.requests).hasSize(3);

    clock.millis += 1999;
    reporter.progress(Map.of("step", 4));
    assertThat(api.requests).hasSize(3);
    clock.millis += 1;
    reporter.progress(Map.of("step", 5));
    assertThat(api.requests).as("the interval has passed").hasSize(4);
    assertThat(api.last().report("progress-3.json").path("progress").path("step").asInt())
        .isEqualTo(5);

    clock.millis += 10;
    reporter.progress(Map.of("step", 6));
    assertThat(api.requests).hasSize(4);
    reporter.close();
    assertThat(api.requests).as("close sends what is pending").hasSize(5);
    assertThat(api.last().report("progress-3.json").path("progress").path("step").asInt())
        .isEqualTo(6);
    reporter.close();
    assertThat(api.requests).as("nothing pending").hasSize(5);
  }

  @Test
  void anHttpErrorIsRetriedWithTheNextReport() throws IOException {
    ApiServer api = server(0);
    ManualClock clock = new ManualClock();
    ConfigMapProgressReporter reporter = reporter(api.port(), clock);
    api.status = 500;
    assertThatCode(() -> reporter.progress(Map.of("step", 1))).doesNotThrowAnyException();
    assertThat(api.requests).hasSize(1);

    api.status = 200;
    clock.millis += 100;
    reporter.progress(Map.of("step", 2));
    assertThat(api.requests).as("a failed attempt is throttled too").hasSize(1);
    reporter.checkpoint(Map.of("step", 2));
    assertThat(api.requests).hasSize(2);
    JsonNode report = api.last().report("progress-3.json");
    assertThat(report.path("progress").path("step").asInt()).isEqualTo(2);
    assertThat(report.path("version").asLong()).isEqualTo(2);

    // Forbidden (a Role that does not cover the ConfigMap): close tries once more.
    api.status = 403;
    reporter.phase("Failed", "out of memory");
    api.status = 200;
    reporter.close();
    assertThat(api.requests).hasSize(4);
    assertThat(api.last().report("progress-3.json").path("phase").asText()).isEqualTo("Failed");

    // However long the failures last, progress is tried again at least every 30 s.
    api.status = 500;
    for (int i = 0; i < 12; i++) {
      reporter.phase("Running", "attempt " + i);
    }
    assertThat(api.requests).hasSize(16);
    api.status = 200;
    clock.millis += JsonProgressReporter.MAX_WAIT.toMillis() - 1;
    reporter.progress(Map.of("step", 3));
    assertThat(api.requests).hasSize(16);
    clock.millis += 1;
    reporter.progress(Map.of("step", 4));
    assertThat(api.requests).hasSize(17);
    assertThat(api.last().report("progress-3.json").path("message").asText())
        .isEqualTo("attempt 11");
  }

  @Test
  void anApiServerOutOfReachIsRetriedWithTheNextReport() throws IOException {
    ApiServer first = server(0);
    int port = first.port();
    ManualClock clock = new ManualClock();
    ConfigMapProgressReporter reporter = reporter(port, clock);
    reporter.progress(Map.of("step", 1));
    assertThat(first.requests).hasSize(1);
    first.close();

    clock.millis += 5000;
    assertThatCode(() -> reporter.progress(Map.of("step", 2))).doesNotThrowAnyException();
    assertThatCode(() -> reporter.phase("Running", "still")).doesNotThrowAnyException();

    // Two failures: progress waits 2 × 2 × 2 s before the next attempt.
    ApiServer second = server(port);
    clock.millis += 7999;
    reporter.progress(Map.of("step", 3));
    assertThat(second.requests).as("backing off").isEmpty();
    clock.millis += 1;
    reporter.progress(Map.of("step", 4));
    assertThat(second.requests).hasSize(1);
    JsonNode report = second.last().report("progress-3.json");
    assertThat(report.path("progress").path("step").asInt()).isEqualTo(4);
    assertThat(report.path("message").asText()).isEqualTo("still");
    assertThat(report.path("version").asLong()).as("two attempts failed in between").isEqualTo(4);

    // A success resets the wait to the interval.
    clock.millis += 2000;
    reporter.progress(Map.of("step", 5));
    assertThat(second.requests).hasSize(2);
  }

  @Test
  void aRotatedTokenIsUsedForTheNextReport() throws IOException {
    ApiServer api = server(0);
    Path token = token("first");
    ConfigMapProgressReporter reporter =
        new ConfigMapProgressReporter(
            target(URI.create("http://127.0.0.1:" + api.port()), token),
            "PretrainRun",
            new ManualClock(),
            Duration.ofSeconds(2));
    reporter.progress(Map.of("step", 1));
    assertThat(api.last().authorization()).isEqualTo("Bearer first");
    Files.writeString(token, "second");
    reporter.checkpoint(Map.of("step", 1));
    assertThat(api.last().authorization()).isEqualTo("Bearer second");

    Files.delete(token);
    reporter.phase("Succeeded", "");
    assertThat(api.requests).as("no token, no request").hasSize(2);
    Files.writeString(token, "third");
    reporter.close();
    assertThat(api.requests).hasSize(3);
    assertThat(api.last().authorization()).isEqualTo("Bearer third");
    assertThat(api.last().report("progress-3.json").path("phase").asText()).isEqualTo("Succeeded");
  }

  /**
   * TLS with the cluster's CA file: a server whose certificate it signed is trusted, others not.
   */
  @Test
  void theApiServerIsTrustedThroughTheCaFile() throws Exception {
    Path keystore = dir.resolve("server.p12");
    Path ca = dir.resolve("ca.crt");
    keytool(
        "-genkeypair",
        "-alias",
        "api",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=kubernetes",
        "-ext",
        "san=ip:127.0.0.1",
        "-validity",
        "2",
        "-storetype",
        "PKCS12",
        "-keystore",
        keystore.toString(),
        "-storepass",
        "changeit");
    keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "api",
        "-keystore",
        keystore.toString(),
        "-storepass",
        "changeit",
        "-file",
        ca.toString());
    assertThat(Files.readString(ca)).startsWith("-----BEGIN CERTIFICATE-----");

    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      keys.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory keyManagers =
        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keyManagers.init(keys, "changeit".toCharArray());
    SSLContext serverTls = SSLContext.getInstance("TLS");
    serverTls.init(keyManagers.getKeyManagers(), null, null);
    HttpsServer https =
        HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    https.setHttpsConfigurator(new HttpsConfigurator(serverTls));
    ApiServer api = new ApiServer(https);
    servers.add(api);
    URI url = URI.create("https://127.0.0.1:" + api.port());
    Path token = token("tls-token");

    ConfigMapProgressReporter trusted =
        new ConfigMapProgressReporter(
            new ConfigMapProgressReporter.Target(
                url, token, ca, "team-a", "run-1-progress", "progress-0.json"),
            "PackJob");
    trusted.phase("Running", "scan");
    assertThat(api.requests).hasSize(1);
    assertThat(api.last().authorization()).isEqualTo("Bearer tls-token");
    assertThat(api.last().report("progress-0.json").path("message").asText()).isEqualTo("scan");

    // The JVM's default trust does not know this certificate: the handshake fails, quietly.
    ConfigMapProgressReporter untrusted =
        new ConfigMapProgressReporter(
            new ConfigMapProgressReporter.Target(
                url, token, null, "team-a", "run-1-progress", "progress-0.json"),
            "PackJob");
    assertThatCode(() -> untrusted.phase("Running", "scan")).doesNotThrowAnyException();
    assertThat(api.requests).hasSize(1);

    // A CA file that holds no certificate fails reports, not the worker.
    Path empty = Files.writeString(dir.resolve("empty.crt"), "");
    ConfigMapProgressReporter broken =
        new ConfigMapProgressReporter(
            new ConfigMapProgressReporter.Target(
                url, token, empty, "team-a", "run-1-progress", "progress-0.json"),
            "PackJob");
    assertThatCode(() -> broken.phase("Running", "scan")).doesNotThrowAnyException();
    assertThat(api.requests).hasSize(1);
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }

  // ---- which reporter the environment asks for -------------------------------------------------

  private Path serviceAccount(boolean withToken) throws IOException {
    Path account = Files.createDirectories(dir.resolve("serviceaccount"));
    if (withToken) {
      Files.writeString(account.resolve("token"), "t");
    }
    Files.writeString(account.resolve("ca.crt"), "");
    Files.writeString(account.resolve("namespace"), "from-file\n");
    return account;
  }

  @Test
  void thePodEnvironmentDescribesTheTarget() throws IOException {
    Path account = serviceAccount(true);
    Map<String, String> env =
        Map.of(
            "TESSERA_PROGRESS_CONFIGMAP", "run-1-progress",
            "KUBERNETES_SERVICE_HOST", "10.96.0.1",
            "KUBERNETES_SERVICE_PORT", "6443",
            "POD_NAMESPACE", "team-a",
            "JOB_COMPLETION_INDEX", "3");
    ConfigMapProgressReporter.Target target =
        ConfigMapProgressReporter.Target.fromEnvironment(env, account).orElseThrow();
    assertThat(target.uri()).isEqualTo(URI.create("https://10.96.0.1:6443" + PATH));
    assertThat(target.key()).isEqualTo("progress-3.json");
    assertThat(target.tokenFile()).isEqualTo(account.resolve("token"));
    assertThat(target.caFile()).isEqualTo(account.resolve("ca.crt"));

    // No completion index (a plain Job), no POD_NAMESPACE, an IPv6 service address.
    ConfigMapProgressReporter.Target bare =
        ConfigMapProgressReporter.Target.fromEnvironment(
                Map.of(
                    "TESSERA_PROGRESS_CONFIGMAP", "run-1-progress",
                    "KUBERNETES_SERVICE_HOST", "fd00::1"),
                account)
            .orElseThrow();
    assertThat(bare.key()).isEqualTo("progress-0.json");
    assertThat(bare.namespace()).isEqualTo("from-file");
    assertThat(bare.uri())
        .isEqualTo(
            URI.create(
                "https://[fd00::1]:443/api/v1/namespaces/from-file/configmaps/run-1-progress"));
  }

  @Test
  void theConfigMapWinsOverTheFileWhenThePodCanReachIt() throws IOException {
    Map<String, String> pod =
        Map.of(
            "TESSERA_PROGRESS_CONFIGMAP", "run-1-progress",
            "KUBERNETES_SERVICE_HOST", "10.96.0.1",
            "TESSERA_PROGRESS_FILE", dir.resolve("progress.json").toString());
    assertThat(JsonProgressReporter.fromEnvironment("PackJob", pod, serviceAccount(true)))
        .isInstanceOf(ConfigMapProgressReporter.class);
    // Without a token (automountServiceAccountToken: false) the file is the fallback.
    Files.delete(dir.resolve("serviceaccount/token"));
    assertThat(JsonProgressReporter.fromEnvironment("PackJob", pod, dir.resolve("serviceaccount")))
        .isInstanceOf(FileProgressReporter.class);
    assertThat(
            JsonProgressReporter.fromEnvironment(
                "PackJob",
                Map.of("TESSERA_PROGRESS_CONFIGMAP", "run-1-progress"),
                dir.resolve("serviceaccount")))
        .isSameAs(ProgressReporter.NONE);
    assertThat(JsonProgressReporter.fromEnvironment("PackJob", Map.of(), dir))
        .isSameAs(ProgressReporter.NONE);
  }
}
