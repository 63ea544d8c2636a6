package dev.tessera.curator.curate;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a small SentencePiece {@code ModelProto} by hand: a unigram model over whole words with
 * the identity normaliser, {@code <pad>} 0, {@code </s>} 1, {@code <unk>} 2 as in SigLIP's
 * vocabulary, then {@code ▁word} for each word. Tests need no trainer to get a model file.
 */
final class SentencePieceModelFile {
  private static final int NORMAL = 1;
  private static final int UNKNOWN = 2;
  private static final int CONTROL = 3;
  private static final int UNIGRAM = 1;

  private SentencePieceModelFile() {}

  /** {@code specials} in order (each CONTROL except {@code <unk>}), then the words. */
  static void write(Path file, List<String> specials, List<String> words) throws IOException {
    ByteArrayOutputStream model = new ByteArrayOutputStream();
    for (String special : specials) {
      bytesField(model, 1, piece(special, 0f, special.equals("<unk>") ? UNKNOWN : CONTROL));
    }
    for (int i = 0; i < words.size(); i++) {
      bytesField(model, 1, piece("\u2581" + words.get(i), -1f - 0.01f * i, NORMAL));
    }
    ByteArrayOutputStream trainer = new ByteArrayOutputStream();
    varintField(trainer, 3, UNIGRAM);
    varintField(trainer, 4, specials.size() + words.size());
    bytesField(model, 2, trainer.toByteArray());
    ByteArrayOutputStream normalizer = new ByteArrayOutputStream();
    bytesField(normalizer, 1, "identity".getBytes(StandardCharsets.UTF_8));
    varintField(normalizer, 3, 1);
    varintField(normalizer, 4, 1);
    varintField(normalizer, 5, 1);
    bytesField(model, 3, normalizer.toByteArray());
    Files.write(file, model.toByteArray());
  }

  private static byte[] piece(String text, float score, int type) {
    ByteArrayOutputStream piece = new ByteArrayOutputStream();
    bytesField(piece, 1, text.getBytes(StandardCharsets.UTF_8));
    varint(piece, 2 << 3 | 5);
    int bits = Float.floatToIntBits(score);
    for (int i = 0; i < 4; i++) {
      piece.write(bits >>> 8 * i);
    }
    varintField(piece, 3, type);
    return piece.toByteArray();
  }

  private static void bytesField(ByteArrayOutputStream out, int field, byte[] body) {
    varint(out, field << 3 | 2);
    varint(out, body.length);
    out.writeBytes(body);
  }

  private static void varintField(ByteArrayOutputStream out, int field, long value) {
    varint(out, field << 3);
    varint(out, value);
  }

  private static void varint(ByteArrayOutputStream out, long value) {
    while ((value & ~0x7FL) != 0) {
      out.write((int) (value & 0x7F) | 0x80);
      value >>>= 7;
    }
    out.write((int) value);
  }
}
