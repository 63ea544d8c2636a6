package dev.tessera.data.scores;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScoreTableTest {
  @TempDir Path dir;

  private static List<ScoreRow> rows() {
    List<ScoreRow> rows = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      boolean image = i % 7 != 3;
      rows.add(
          new ScoreRow(
              "00001.tar",
              String.format("%09d", i),
              i % 5 == 0 ? "" : String.format("%032x", 1000 + i),
              image ? 100 + i : 0,
              image ? 80 + i : 0,
              image ? 12.5 + i : 0,
              image ? "ab" + i : null,
              image ? new long[] {i, -i, Long.MIN_VALUE + i, Long.MAX_VALUE - i} : null,
              "a caption, number " + i + " — with ünïcode",
              i % 4 == 0 ? List.of("small_image", "few_letters") : List.of(),
              i % 3 == 0
                  ? Map.of("clip", 0.25 + i / 100.0, "su", 80.0 + i)
                  : Map.of("su", 1.0 * i)));
    }
    return rows;
  }

  @Test
  void rowsComeBackAsTheyWereWritten() throws IOException {
    Path table = dir.resolve("00001.parquet");
    List<ScoreRow> rows = rows();
    ScoreTable.write(table, rows);
    assertThat(AtomicFiles.inProgress(table)).doesNotExist();
    List<ScoreRow> back = ScoreTable.read(table);
    assertThat(back).hasSize(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      ScoreRow a = rows.get(i);
      ScoreRow b = back.get(i);
      assertThat(b).usingRecursiveComparison().ignoringFields("phash").isEqualTo(a);
      assertThat(b.phash()).isEqualTo(a.phash());
    }
  }

  @Test
  void duckDbReadsTheTablesAsTheyAre() throws IOException, SQLException {
    ScoreTable.write(dir.resolve("00001.parquet"), rows());
    String glob = dir.resolve("*.parquet").toString().replace("'", "''");
    try (Connection connection = DriverManager.getConnection("jdbc:duckdb:");
        Statement statement = connection.createStatement();
        ResultSet result =
            statement.executeQuery(
                "SELECT count(*), sum(width), count(sha256), count(score_clip),"
                    + " sum(CASE WHEN passes THEN 1 ELSE 0 END), max(score_su),"
                    + " min(reasons) FILTER (WHERE reasons <> '')"
                    + " FROM read_parquet('"
                    + glob
                    + "')")) {
      assertThat(result.next()).isTrue();
      List<ScoreRow> rows = rows();
      assertThat(result.getLong(1)).isEqualTo(rows.size());
      assertThat(result.getLong(2)).isEqualTo(rows.stream().mapToLong(ScoreRow::width).sum());
      assertThat(result.getLong(3))
          .isEqualTo(rows.stream().filter(r -> r.sha256() != null).count());
      assertThat(result.getLong(4))
          .isEqualTo(rows.stream().filter(r -> r.scores().containsKey("clip")).count());
      assertThat(result.getLong(5)).isEqualTo(rows.stream().filter(ScoreRow::passes).count());
      assertThat(result.getDouble(6)).isEqualTo(128.0);
      assertThat(result.getString(7)).isEqualTo("small_image,few_letters");
    }
  }

  @Test
  void aDamagedTableIsReportedByName() throws IOException {
    Path table = dir.resolve("00002.parquet");
    ScoreTable.write(table, rows());
    byte[] bytes = Files.readAllBytes(table);
    Files.write(table, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    assertThatThrownBy(() -> ScoreTable.read(table))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("00002.parquet is not a readable score table");
  }

  @Test
  void writingTheSameRowsGivesTheSameBytes() throws IOException {
    ScoreTable.write(dir.resolve("a.parquet"), rows());
    ScoreTable.write(dir.resolve("b.parquet"), rows());
    assertThat(Files.readAllBytes(dir.resolve("a.parquet")))
        .isEqualTo(Files.readAllBytes(dir.resolve("b.parquet")));
  }
}
