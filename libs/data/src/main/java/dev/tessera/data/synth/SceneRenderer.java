package dev.tessera.data.synth;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.SplittableRandom;

/**
 * Paints a {@link Scene} into an RGB image with Java2D. Positions follow a 3 × 3 grid; a group of
 * {@code count} objects is laid out on a small grid inside its cell, with some jitter.
 */
public final class SceneRenderer {
  static {
    // Java2D must not look for a display: generation runs on servers and in CI.
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  private SceneRenderer() {}

  /**
   * Renders {@code scene} at {@code width × height}; texture details and jitter come from rng. The
   * image is 3-byte BGR, the layout the JPEG encoder takes without converting.
   */
  public static BufferedImage render(Scene scene, int width, int height, SplittableRandom rng) {
    BufferedImage image = newImage(width, height);
    Graphics2D g = image.createGraphics();
    try {
      paintBackground(image, g, scene.background(), rng);
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      for (Scene.ObjectGroup group : scene.groups()) {
        paintGroup(g, group, width, height, rng);
      }
    } finally {
      g.dispose();
    }
    return image;
  }

  /** An image of one colour everywhere. */
  public static BufferedImage uniform(int width, int height, int rgb) {
    BufferedImage image = newImage(width, height);
    byte[] pixels = pixels(image);
    for (int i = 0; i < pixels.length; i += 3) {
      pixels[i] = (byte) rgb;
      pixels[i + 1] = (byte) (rgb >> 8);
      pixels[i + 2] = (byte) (rgb >> 16);
    }
    return image;
  }

  static BufferedImage newImage(int width, int height) {
    return new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
  }

  private static byte[] pixels(BufferedImage image) {
    return ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
  }

  private static void paintBackground(
      BufferedImage image, Graphics2D g, Scene.Background background, SplittableRandom rng) {
    int w = image.getWidth();
    int h = image.getHeight();
    Color c1 = new Color(background.colour().rgb());
    Color c2 = background.secondColour() == null ? c1 : new Color(background.secondColour().rgb());
    g.setColor(c1);
    g.fillRect(0, 0, w, h);
    int shortSide = Math.min(w, h);
    switch (background.pattern()) {
      case PLAIN -> {}
      case GRADIENT -> {
        float x2 = background.orientation() == Orientation.VERTICAL ? 0 : w;
        float y2 = background.orientation() == Orientation.HORIZONTAL ? 0 : h;
        g.setPaint(new GradientPaint(0, 0, c1, x2, y2, c2));
        g.fillRect(0, 0, w, h);
      }
      case STRIPES -> paintStripes(g, background.orientation(), w, h, c2, band(shortSide, rng));
      case CHECKER -> {
        int cell = band(shortSide, rng);
        g.setColor(c2);
        for (int y = 0; y < h; y += cell) {
          for (int x = ((y / cell) % 2) * cell; x < w; x += 2 * cell) {
            g.fillRect(x, y, cell, cell);
          }
        }
      }
      case DOTS -> {
        int spacing = Math.max(4, band(shortSide, rng));
        int radius = Math.max(1, spacing / 4);
        g.setColor(c2);
        for (int row = 0, y = spacing / 2; y < h + spacing; row++, y += spacing) {
          int offset = (row % 2) * spacing / 2;
          for (int x = spacing / 2 + offset; x < w + spacing; x += spacing) {
            g.fillOval(x - radius, y - radius, 2 * radius, 2 * radius);
          }
        }
      }
      case NOISE -> paintNoise(image, background.colour().rgb(), c2.getRGB(), rng);
    }
  }

  /** Band width for stripes, checks and dots: 4% to 12% of the shorter side, at least 2 pixels. */
  private static int band(int shortSide, SplittableRandom rng) {
    return Math.max(2, (int) Math.round(shortSide * Seeds.uniform(rng, 0.04, 0.12)));
  }

  private static void paintStripes(
      Graphics2D g, Orientation orientation, int w, int h, Color colour, int band) {
    Graphics2D s = (Graphics2D) g.create();
    try {
      s.setColor(colour);
      if (orientation == Orientation.HORIZONTAL) {
        for (int y = band; y < h; y += 2 * band) {
          s.fillRect(0, y, w, band);
        }
      } else if (orientation == Orientation.VERTICAL) {
        for (int x = band; x < w; x += 2 * band) {
          s.fillRect(x, 0, band, h);
        }
      } else {
        // Vertical stripes over the rotated square that covers the image.
        int diagonal = (int) Math.ceil(Math.hypot(w, h));
        s.rotate(Math.PI / 4, w / 2.0, h / 2.0);
        int x0 = w / 2 - diagonal / 2;
        int y0 = h / 2 - diagonal / 2;
        for (int x = x0 + band; x < x0 + diagonal; x += 2 * band) {
          s.fillRect(x, y0, band, diagonal);
        }
      }
    } finally {
      s.dispose();
    }
  }

  /**
   * Grain of 2 × 2 pixel cells in eight shades between the two colours: visibly noisy, yet it
   * compresses, so noisy samples stay small and fast to encode.
   */
  private static void paintNoise(BufferedImage image, int rgb1, int rgb2, SplittableRandom rng) {
    byte[] pixels = pixels(image);
    int w = image.getWidth();
    int h = image.getHeight();
    int[] shades = new int[8];
    for (int i = 0; i < shades.length; i++) {
      shades[i] = lerp(rgb1, rgb2, i * 255 / (shades.length - 1));
    }
    for (int y = 0; y < h; y += 2) {
      for (int x = 0; x < w; x += 2) {
        int rgb = shades[rng.nextInt(shades.length)];
        for (int dy = 0; dy < 2 && y + dy < h; dy++) {
          for (int dx = 0; dx < 2 && x + dx < w; dx++) {
            int i = ((y + dy) * w + x + dx) * 3;
            pixels[i] = (byte) rgb;
            pixels[i + 1] = (byte) (rgb >> 8);
            pixels[i + 2] = (byte) (rgb >> 16);
          }
        }
      }
    }
  }

  private static int lerp(int a, int b, int t) {
    int r = ((a >> 16 & 0xFF) * (255 - t) + (b >> 16 & 0xFF) * t) / 255;
    int g = ((a >> 8 & 0xFF) * (255 - t) + (b >> 8 & 0xFF) * t) / 255;
    int bl = ((a & 0xFF) * (255 - t) + (b & 0xFF) * t) / 255;
    return r << 16 | g << 8 | bl;
  }

  private static void paintGroup(
      Graphics2D g, Scene.ObjectGroup group, int w, int h, SplittableRandom rng) {
    double cellW = w / 3.0;
    double cellH = h / 3.0;
    int columns = (int) Math.ceil(Math.sqrt(group.count()));
    int rows = (group.count() + columns - 1) / columns;
    double subW = cellW / columns;
    double subH = cellH / rows;
    double radius = Math.min(subW, subH) / 2 * group.size().fill();
    Color fill = new Color(group.colour().rgb());
    Color outline = fill.darker();
    g.setStroke(new BasicStroke((float) Math.max(1, radius / 12)));
    for (int i = 0; i < group.count(); i++) {
      double slackX = subW / 2 - radius;
      double slackY = subH / 2 - radius;
      double cx =
          group.position().column() * cellW
              + (i % columns + 0.5) * subW
              + Seeds.uniform(rng, -0.8, 0.8) * slackX;
      double cy =
          group.position().row() * cellH
              + (i / columns + 0.5) * subH
              + Seeds.uniform(rng, -0.8, 0.8) * slackY;
      Shape shape = outline(group.shape(), cx, cy, radius);
      g.setColor(fill);
      g.fill(shape);
      g.setColor(outline);
      g.draw(shape);
    }
  }

  static Shape outline(ShapeKind kind, double cx, double cy, double r) {
    return switch (kind) {
      case CIRCLE -> new Ellipse2D.Double(cx - r, cy - r, 2 * r, 2 * r);
      case SQUARE -> new Rectangle2D.Double(cx - 0.85 * r, cy - 0.85 * r, 1.7 * r, 1.7 * r);
      case TRIANGLE -> polygon(cx, cy + 0.2 * r, r * 1.1, 3, -Math.PI / 2, 1.0);
      case DIAMOND -> {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(cx, cy - r);
        p.lineTo(cx + 0.7 * r, cy);
        p.lineTo(cx, cy + r);
        p.lineTo(cx - 0.7 * r, cy);
        p.closePath();
        yield p;
      }
      case STAR -> polygon(cx, cy, r, 10, -Math.PI / 2, 0.45);
      case HEXAGON -> polygon(cx, cy, r, 6, 0, 1.0);
    };
  }

  /** A regular polygon; with {@code innerRatio < 1}, every other vertex is pulled in (a star). */
  private static Shape polygon(
      double cx, double cy, double r, int vertices, double start, double innerRatio) {
    Path2D.Double p = new Path2D.Double();
    for (int i = 0; i < vertices; i++) {
      double radius = i % 2 == 1 ? r * innerRatio : r;
      double angle = start + 2 * Math.PI * i / vertices;
      double x = cx + radius * Math.cos(angle);
      double y = cy + radius * Math.sin(angle);
      if (i == 0) {
        p.moveTo(x, y);
      } else {
        p.lineTo(x, y);
      }
    }
    p.closePath();
    return p;
  }
}
