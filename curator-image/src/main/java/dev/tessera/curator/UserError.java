package dev.tessera.curator;

import dev.tessera.data.webdataset.ShardList;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A mistake in what the user asked for: reported as one line, without a stack trace. */
final class UserError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  UserError(String message) {
    super(message);
  }

  /**
   * The shards a command-line argument names (directory, file or brace pattern), or a user error
   * saying which are missing or why the pattern is wrong.
   */
  static List<Path> resolveShards(String spec, boolean allowMissing) throws IOException {
    try {
      return ShardList.resolve(Path.of(""), spec, allowMissing);
    } catch (NoSuchFileException e) {
      throw new UserError("no shards at " + e.getFile() + ": " + e.getReason());
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
  }

  /**
   * The shards of several arguments, one list per argument in the order given; a shard named by two
   * of them is a user error (it would be packed twice).
   */
  static List<List<Path>> resolveShards(List<String> specs, boolean allowMissing)
      throws IOException {
    List<List<Path>> shards = new ArrayList<>();
    Map<Path, String> namedBy = new HashMap<>();
    for (String spec : specs) {
      List<Path> named = resolveShards(spec, allowMissing);
      for (Path shard : named) {
        String earlier = namedBy.putIfAbsent(shard.toAbsolutePath().normalize(), spec);
        if (earlier != null) {
          throw new UserError(
              shard
                  + " is named by two inputs, '"
                  + earlier
                  + "' and '"
                  + spec
                  + "' (--repeat packs an input more than once)");
        }
      }
      shards.add(named);
    }
    return shards;
  }
}
