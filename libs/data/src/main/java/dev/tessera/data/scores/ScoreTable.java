package dev.tessera.data.scores;

import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;

/**
 * Score tables: one Parquet file per input shard, one row per sample, what pandas and DuckDB read
 * ({@code SELECT reasons, count(*) FROM 'scores/*.parquet' GROUP BY 1}). Columns: {@code shard},
 * {@code key}, {@code uid}, {@code width}, {@code height}, {@code contrast}, {@code sha256}, {@code
 * phash} (32 bytes), {@code caption}, {@code reasons} (comma-separated reason names, empty when the
 * sample passes the basic filters), {@code passes}, then one nullable DOUBLE column per model score
 * ({@code score_<name>}).
 *
 * <p>A table is written whole under a temporary name and renamed into place, so a table that exists
 * is complete; {@link #read} checks its footer and schema.
 */
public final class ScoreTable {
  /** Prefix of the model-score columns. */
  public static final String SCORE_PREFIX = "score_";

  private ScoreTable() {}

  /** The Parquet schema of a table with these model scores. */
  static MessageType schema(List<String> scoreNames) {
    Types.MessageTypeBuilder builder = Types.buildMessage();
    builder
        .required(PrimitiveTypeName.BINARY)
        .as(LogicalTypeAnnotation.stringType())
        .named("shard");
    builder.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named("key");
    builder.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named("uid");
    builder.required(PrimitiveTypeName.INT32).named("width");
    builder.required(PrimitiveTypeName.INT32).named("height");
    builder.required(PrimitiveTypeName.DOUBLE).named("contrast");
    builder
        .optional(PrimitiveTypeName.BINARY)
        .as(LogicalTypeAnnotation.stringType())
        .named("sha256");
    builder.optional(PrimitiveTypeName.BINARY).named("phash");
    builder
        .required(PrimitiveTypeName.BINARY)
        .as(LogicalTypeAnnotation.stringType())
        .named("caption");
    builder
        .required(PrimitiveTypeName.BINARY)
        .as(LogicalTypeAnnotation.stringType())
        .named("reasons");
    builder.required(PrimitiveTypeName.BOOLEAN).named("passes");
    for (String name : scoreNames) {
      builder.optional(PrimitiveTypeName.DOUBLE).named(SCORE_PREFIX + name);
    }
    return builder.named("tessera_scores");
  }

  /**
   * Writes {@code rows} to {@code target} (atomically: a temporary file renamed into place). Every
   * model score any row has becomes a column, in name order.
   */
  public static void write(Path target, List<ScoreRow> rows) throws IOException {
    TreeSet<String> names = new TreeSet<>();
    rows.forEach(row -> names.addAll(row.scores().keySet()));
    List<String> scoreNames = List.copyOf(names);
    MessageType schema = schema(scoreNames);
    Path temporary = AtomicFiles.inProgress(target);
    Files.deleteIfExists(temporary);
    SimpleGroupFactory groups = new SimpleGroupFactory(schema);
    try (ParquetWriter<Group> writer =
        ExampleParquetWriter.builder(new LocalOutputFile(temporary))
            .withConf(new PlainParquetConfiguration())
            .withType(schema)
            // Uncompressed: any codec makes parquet-hadoop build a Hadoop Configuration, which
            // needs
            // the Hadoop runtime jars; the tables are small (captions and hashes).
            .withCompressionCodec(CompressionCodecName.UNCOMPRESSED)
            .build()) {
      for (ScoreRow row : rows) {
        Group group =
            groups
                .newGroup()
                .append("shard", row.shard())
                .append("key", row.key())
                .append("uid", row.uid())
                .append("width", row.width())
                .append("height", row.height())
                .append("contrast", row.contrast());
        if (row.sha256() != null) {
          group.append("sha256", row.sha256());
        }
        if (row.phash() != null) {
          ByteBuffer bytes = ByteBuffer.allocate(32);
          for (long word : row.phash()) {
            bytes.putLong(word);
          }
          group.append("phash", Binary.fromConstantByteArray(bytes.array()));
        }
        group
            .append("caption", row.caption())
            .append("reasons", String.join(",", row.reasons()))
            .append("passes", row.passes());
        for (String name : scoreNames) {
          Double score = row.scores().get(name);
          if (score != null) {
            group.append(SCORE_PREFIX + name, score);
          }
        }
        writer.write(group);
      }
    }
    AtomicFiles.commit(temporary, target);
  }

  /**
   * Reads a table back.
   *
   * @throws IOException when the file is not a complete score table (damaged, truncated, or another
   *     schema), naming the file
   */
  public static List<ScoreRow> read(Path table) throws IOException {
    List<ScoreRow> rows = new ArrayList<>();
    try (ParquetReader<Group> reader = new GroupReader(new LocalInputFile(table)).build()) {
      Group group;
      List<String> scoreNames = null;
      while ((group = reader.read()) != null) {
        if (scoreNames == null) {
          scoreNames = scoreColumns(group);
        }
        rows.add(row(group, scoreNames));
      }
    } catch (IOException | RuntimeException e) {
      throw new IOException(table + " is not a readable score table: " + e.getMessage(), e);
    }
    return rows;
  }

  private static List<String> scoreColumns(Group group) {
    List<String> names = new ArrayList<>();
    for (Type field : group.getType().getFields()) {
      if (field.getName().startsWith(SCORE_PREFIX)) {
        names.add(field.getName().substring(SCORE_PREFIX.length()));
      }
    }
    for (String required :
        List.of("shard", "key", "uid", "width", "height", "contrast", "caption", "reasons")) {
      if (!group.getType().containsField(required)) {
        throw new IllegalArgumentException("no column '" + required + "'");
      }
    }
    return names;
  }

  private static ScoreRow row(Group group, List<String> scoreNames) {
    String sha256 =
        group.getFieldRepetitionCount("sha256") == 0 ? null : group.getString("sha256", 0);
    long[] phash = null;
    if (group.getFieldRepetitionCount("phash") > 0) {
      ByteBuffer bytes = group.getBinary("phash", 0).toByteBuffer();
      phash = new long[4];
      for (int i = 0; i < 4; i++) {
        phash[i] = bytes.getLong();
      }
    }
    String reasons = group.getString("reasons", 0);
    Map<String, Double> scores = new LinkedHashMap<>();
    for (String name : scoreNames) {
      if (group.getFieldRepetitionCount(SCORE_PREFIX + name) > 0) {
        scores.put(name, group.getDouble(SCORE_PREFIX + name, 0));
      }
    }
    return new ScoreRow(
        group.getString("shard", 0),
        group.getString("key", 0),
        group.getString("uid", 0),
        group.getInteger("width", 0),
        group.getInteger("height", 0),
        group.getDouble("contrast", 0),
        sha256,
        phash,
        group.getString("caption", 0),
        reasons.isEmpty() ? List.of() : Arrays.asList(reasons.split(",")),
        scores);
  }

  /** A reader of any score table as Parquet example groups, without Hadoop configuration. */
  private static final class GroupReader extends ParquetReader.Builder<Group> {
    GroupReader(LocalInputFile file) {
      super(file, new PlainParquetConfiguration());
    }

    @Override
    protected ReadSupport<Group> getReadSupport() {
      return new GroupReadSupport();
    }
  }
}
