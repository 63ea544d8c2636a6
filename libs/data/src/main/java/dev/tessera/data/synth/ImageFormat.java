package dev.tessera.data.synth;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.SplittableRandom;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/** The image encodings samples use, with the WebDataset member extension of each. */
public enum ImageFormat {
  JPEG("jpg", "jpeg", new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0}),
  PNG("png", "png", new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});

  static {
    // Encoding to memory; a disk cache only costs time.
    ImageIO.setUseCache(false);
  }

  private final String extension;
  private final String imageIoName;
  private final byte[] magic;

  ImageFormat(String extension, String imageIoName, byte[] magic) {
    this.extension = extension;
    this.imageIoName = imageIoName;
    this.magic = magic;
  }

  /** The member extension, {@code jpg} or {@code png}. */
  public String extension() {
    return extension;
  }

  /**
   * Encodes {@code image}; {@code quality} (0..1) applies to JPEG only. The encoders are
   * deterministic: the same pixels and quality always give the same bytes.
   */
  public byte[] encode(BufferedImage image, float quality) {
    Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName(imageIoName);
    if (!writers.hasNext()) {
      throw new IllegalStateException("this Java runtime has no ImageIO writer for " + imageIoName);
    }
    ImageWriter writer = writers.next();
    ByteArrayOutputStream bytes =
        new ByteArrayOutputStream(image.getWidth() * image.getHeight() / 2);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
      writer.setOutput(out);
      ImageWriteParam param = writer.getDefaultWriteParam();
      if (this == JPEG) {
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(quality);
      }
      writer.write(null, new IIOImage(image, null, null), param);
    } catch (IOException e) {
      throw new UncheckedIOException("encoding " + imageIoName + " in memory failed", e);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }

  /**
   * Bytes that begin with this format's signature, so sniffers take them for a {@code jpg} or
   * {@code png}, followed by junk that no decoder accepts. The junk has no 0xFF bytes: JPEG parsers
   * skip ahead to the next 0xFF looking for a marker, and must not find one.
   */
  byte[] corrupt(SplittableRandom rng) {
    byte[] bytes = new byte[magic.length + 256 + rng.nextInt(2048)];
    System.arraycopy(magic, 0, bytes, 0, magic.length);
    for (int i = magic.length; i < bytes.length; i++) {
      bytes[i] = (byte) rng.nextInt(0xFF);
    }
    return bytes;
  }
}
