package dev.tessera.data.progress;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Progress into the run's ConfigMap, {@code <name>-progress}, that the operator watches and folds
 * into the resource's status (DESIGN.md §4). Each pod owns one key, {@code
 * progress-<JOB_COMPLETION_INDEX>.json}, whose value is the document {@link FileProgressReporter}
 * writes, and sets it with a JSON merge patch that names that key alone: pods of one run never
 * overwrite each other's reports. The pod's service account may get, patch and update that
 * ConfigMap and nothing else.
 *
 * <p>The token is read again for every report (projected tokens rotate). A report that does not get
 * through (an HTTP error, an API server out of reach) is retried with a later one and at {@link
 * #close()}; the worker never sees the failure, its log gets one line per run of failures.
 */
public final class ConfigMapProgressReporter extends JsonProgressReporter {
  /** Environment variable naming the ConfigMap (set by the operator on every worker pod). */
  public static final String CONFIGMAP_VARIABLE = "TESSERA_PROGRESS_CONFIGMAP";

  /** Where Kubernetes mounts a pod's service account: {@code token}, {@code ca.crt}, namespace. */
  public static final Path SERVICE_ACCOUNT =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount");

  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Where the reports go.
   *
   * @param apiServer the API server's base URL ({@code https://host:port})
   * @param tokenFile the bearer token, read for every report
   * @param caFile the CA bundle (PEM) the API server's certificate is checked against; null: the
   *     JVM's default trust
   * @param namespace the ConfigMap's namespace
   * @param configMap the ConfigMap's name
   * @param key this pod's key, {@code progress-<index>.json}
   */
  public record Target(
      URI apiServer, Path tokenFile, Path caFile, String namespace, String configMap, String key) {

    /** The ConfigMap's URL. */
    public URI uri() {
      return apiServer.resolve("/api/v1/namespaces/" + namespace + "/configmaps/" + configMap);
    }

    /**
     * The target a pod's environment describes: {@code $TESSERA_PROGRESS_CONFIGMAP}, the API server
     * from {@code $KUBERNETES_SERVICE_HOST} and {@code _PORT}, the namespace from {@code
     * $POD_NAMESPACE} or the service account's, the key from {@code $JOB_COMPLETION_INDEX} (0
     * without); empty when any of it, or the token or CA file, is missing.
     *
     * @param serviceAccount the folder holding {@code token}, {@code ca.crt} and {@code namespace}
     */
    public static Optional<Target> fromEnvironment(Map<String, String> env, Path serviceAccount) {
      String configMap = value(env, CONFIGMAP_VARIABLE);
      String host = value(env, "KUBERNETES_SERVICE_HOST");
      Path token = serviceAccount.resolve("token");
      Path ca = serviceAccount.resolve("ca.crt");
      if (configMap == null || host == null || !Files.isReadable(token) || !Files.isReadable(ca)) {
        return Optional.empty();
      }
      String namespace = value(env, "POD_NAMESPACE");
      if (namespace == null) {
        try {
          namespace = Files.readString(serviceAccount.resolve("namespace")).trim();
        } catch (IOException e) {
          return Optional.empty();
        }
        if (namespace.isEmpty()) {
          return Optional.empty();
        }
      }
      String port = value(env, "KUBERNETES_SERVICE_PORT");
      URI api;
      try {
        api =
            URI.create(
                "https://"
                    + (host.contains(":") ? "[" + host + "]" : host)
                    + ":"
                    + (port == null ? 443 : Integer.parseInt(port)));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
      return Optional.of(
          new Target(
              api, token, ca, namespace, configMap, key(value(env, "JOB_COMPLETION_INDEX"))));
    }

    /** {@code progress-<index>.json}; index 0 when there is none (a non-indexed Job). */
    static String key(String completionIndex) {
      int index = 0;
      if (completionIndex != null) {
        try {
          index = Math.max(0, Integer.parseInt(completionIndex));
        } catch (NumberFormatException e) {
          index = 0;
        }
      }
      return "progress-" + index + ".json";
    }

    private static String value(Map<String, String> env, String name) {
      String value = env.get(name);
      return value == null || value.isBlank() ? null : value.trim();
    }
  }

  private final Target target;
  private HttpClient client;

  public ConfigMapProgressReporter(Target target, String kind) {
    this(target, kind, Clock.systemUTC(), DEFAULT_INTERVAL);
  }

  ConfigMapProgressReporter(Target target, String kind, Clock clock, Duration interval) {
    super(kind, clock, interval);
    this.target = target;
  }

  @Override
  protected void publish(byte[] json) throws IOException {
    String token = Files.readString(target.tokenFile()).trim();
    if (token.isEmpty()) {
      throw new IOException("the token file " + target.tokenFile() + " is empty");
    }
    byte[] patch =
        JSON.writeValueAsBytes(
            Map.of("data", Map.of(target.key(), new String(json, StandardCharsets.UTF_8))));
    HttpRequest request =
        HttpRequest.newBuilder(target.uri())
            .timeout(REQUEST_TIMEOUT)
            .header("Content-Type", "application/merge-patch+json")
            .header("Accept", "application/json")
            .header("Authorization", "Bearer " + token)
            .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(patch))
            .build();
    HttpResponse<String> response;
    try {
      response = client().send(request, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reporting progress");
    }
    if (response.statusCode() / 100 != 2) {
      String body = response.body() == null ? "" : response.body().strip();
      throw new IOException(
          "HTTP "
              + response.statusCode()
              + (body.isEmpty() ? "" : ": " + body.substring(0, Math.min(300, body.length()))));
    }
  }

  @Override
  protected void failed(Exception cause) {
    System.err.printf(
        "progress: cannot update ConfigMap %s/%s (%s); retrying with later reports%n",
        target.namespace(),
        target.configMap(),
        cause.getClass() == IOException.class ? cause.getMessage() : cause.toString());
  }

  /** The client, made at the first report: a bad CA file fails reports, not the worker. */
  private HttpClient client() throws IOException {
    if (client == null) {
      HttpClient.Builder builder =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(CONNECT_TIMEOUT);
      if (target.caFile() != null) {
        builder.sslContext(trusting(target.caFile()));
      }
      client = builder.build();
    }
    return client;
  }

  /** TLS that trusts the certificates in {@code caFile} (PEM, one or more) and no others. */
  static SSLContext trusting(Path caFile) throws IOException {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int count = 0;
      for (Certificate certificate :
          CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + count++, certificate);
      }
      if (count == 0) {
        throw new IOException("no certificate in " + caFile);
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(null, trust.getTrustManagers(), null);
      return tls;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot use the CA file " + caFile + ": " + e.getMessage(), e);
    }
  }
}
