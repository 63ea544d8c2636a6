package dev.tessera.curator.filter;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;

/**
 * One pass over an image's pixels for everything the filters measure: the grey-level contrast (on a
 * grid of up to 256×256 pixels) and the 64×64 cell means the perceptual hash starts from. Grey is
 * ITU-R 601 luma in integer thousandths ({@code 299 R + 587 G + 114 B}); pixels are read straight
 * from the raster for the layouts whose stored values are sRGB (3-byte BGR, what JPEG decodes to,
 * and packed int RGB), through {@link BufferedImage#getRGB} otherwise.
 *
 * @param contrast standard deviation of the grey level (0..255) over the sampling grid
 * @param grey 64×64 mean grey levels (0..255), each over the pixels its cell covers; cells an image
 *     smaller than 64 pixels leaves empty take their left or upper neighbour
 */
record ImageSurvey(double contrast, double[][] grey) {
  static final int CELLS = 64;
  static final int GRID = 256;

  static ImageSurvey of(BufferedImage image) {
    int width = image.getWidth();
    int height = image.getHeight();
    // Images of at least 128 pixels a side are read at every other pixel and row: a 64×64 cell
    // then still averages at least four pixels, and the pass costs a quarter.
    int sub = Math.min(width, height) >= 2 * CELLS ? 2 : 1;
    // Cell column c covers x in [start[c], start[c + 1]): x belongs to cell x * 64 / width.
    int[] start = new int[CELLS + 1];
    for (int c = 0; c <= CELLS; c++) {
      start[c] = (int) (((long) c * width + CELLS - 1) / CELLS);
    }
    int[] colsIn = new int[CELLS];
    for (int c = 0; c < CELLS; c++) {
      colsIn[c] = ceilDiv(start[c + 1], sub) - ceilDiv(start[c], sub);
    }
    Scratch scratch = SCRATCH.get().fit(width);
    java.util.Arrays.fill(scratch.sums, 0);
    int[] rowsIn = new int[CELLS];
    long[] grid; // sum, sum of squares, count of the contrast grid's grey levels
    try {
      grid = sumRows(image, sub, start, scratch, rowsIn);
    } catch (RuntimeException e) {
      java.util.Arrays.fill(scratch.band, 0); // the thread's next survey starts from a clean band
      throw e;
    }
    double[] perColumn = new double[CELLS];
    for (int x = 0; x < CELLS; x++) {
      perColumn[x] = colsIn[x] > 0 ? 1.0 / colsIn[x] : 0;
    }
    double[][] grey = new double[CELLS][CELLS];
    boolean everyCellRead = width >= CELLS && height >= CELLS;
    for (int y = 0; y < CELLS; y++) {
      double perRow = rowsIn[y] > 0 ? 1.0 / (1000.0 * rowsIn[y]) : 0;
      double[] greyRow = grey[y];
      int at = y * CELLS;
      if (everyCellRead) {
        for (int x = 0; x < CELLS; x++) {
          greyRow[x] = scratch.sums[at + x] * perRow * perColumn[x];
        }
        continue;
      }
      for (int x = 0; x < CELLS; x++) {
        greyRow[x] =
            rowsIn[y] > 0 && colsIn[x] > 0
                ? scratch.sums[at + x] * perRow * perColumn[x]
                : x > 0 ? greyRow[x - 1] : y > 0 ? grey[y - 1][x] : 0;
      }
    }
    double mean = (double) grid[0] / grid[2];
    double variance = Math.max(0, (double) grid[1] / grid[2] - mean * mean);
    return new ImageSurvey(Math.sqrt(variance) / 1000.0, grey);
  }

  /**
   * Sums the read pixels' grey levels into the cells ({@code scratch.sums}, [cell row * 64 + cell
   * column]) and counts rows per cell row; returns the contrast grid's sum, sum of squares and
   * count.
   */
  private static long[] sumRows(
      BufferedImage image, int sub, int[] start, Scratch scratch, int[] rowsIn) {
    int width = image.getWidth();
    int height = image.getHeight();
    // The contrast grid: at most about 256×256 of the pixels read.
    int stepX = ceilDiv(Math.max(1, width / GRID), sub) * sub;
    int stepY = ceilDiv(Math.max(1, height / GRID), sub) * sub;
    long gridSum = 0;
    long gridSquares = 0;
    long gridCount = 0;
    int[] row = scratch.row;
    // Rows of one cell row are added column by column first; the band is cut into its 64 cells
    // once, when the next cell row begins (every cut clears what it read).
    long[] band = scratch.band;
    long[] sums = scratch.sums;
    int bandRow = 0;
    byte[] bgr = bgrPixels(image);
    for (int y = 0; y < height; y += sub) {
      int cy = (int) ((long) y * CELLS / height);
      if (cy != bandRow) {
        cutBand(band, start, sums, bandRow * CELLS, sub);
        bandRow = cy;
      }
      rowsIn[cy]++;
      boolean gridRow = y % stepY == 0;
      if (bgr != null && gridRow && stepX == sub) {
        // The common case (JPEG, every read pixel on the contrast grid): one fused pass.
        int at = y * width * 3;
        for (int x = 0; x < width; x += sub, at += 3 * sub) {
          long value =
              114 * (bgr[at] & 0xff) + 587 * (bgr[at + 1] & 0xff) + 299 * (bgr[at + 2] & 0xff);
          band[x] += value;
          gridSum += value;
          gridSquares += value * value;
        }
        gridCount += ceilDiv(width, sub);
        continue;
      }
      if (bgr != null) {
        // 3-byte BGR (JPEG): grey levels straight from the raster bytes.
        int at = y * width * 3;
        for (int x = 0; x < width; x += sub, at += 3 * sub) {
          row[x] = 114 * (bgr[at] & 0xff) + 587 * (bgr[at + 1] & 0xff) + 299 * (bgr[at + 2] & 0xff);
        }
      } else {
        grey(image, y, row, scratch.rgb);
      }
      if (gridRow && stepX == sub) {
        for (int x = 0; x < width; x += sub) {
          long value = row[x];
          band[x] += value;
          gridSum += value;
          gridSquares += value * value;
        }
        gridCount += ceilDiv(width, sub);
      } else {
        for (int x = 0; x < width; x += sub) {
          band[x] += row[x];
        }
        if (gridRow) {
          for (int x = 0; x < width; x += stepX) {
            long value = row[x];
            gridSum += value;
            gridSquares += value * value;
            gridCount++;
          }
        }
      }
    }
    cutBand(band, start, sums, bandRow * CELLS, sub);
    return new long[] {gridSum, gridSquares, gridCount};
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }

  /** Adds the band's column sums into its cells' sums and clears the band (read columns only). */
  private static void cutBand(long[] band, int[] start, long[] sums, int at, int sub) {
    for (int c = 0; c < CELLS; c++) {
      long sum = 0;
      for (int x = ceilDiv(start[c], sub) * sub; x < start[c + 1]; x += sub) {
        sum += band[x];
        band[x] = 0;
      }
      sums[at + c] += sum;
    }
  }

  /** Per-thread buffers, grown to the widest image seen: a survey allocates only its result. */
  private static final class Scratch {
    final long[] sums = new long[CELLS * CELLS];
    long[] band = new long[0];
    int[] row = new int[0];
    int[] rgb = new int[0];

    Scratch fit(int width) {
      if (band.length < width) {
        band = new long[width];
        row = new int[width];
        rgb = new int[width];
      }
      return this;
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** The raster bytes of a whole, unshifted 3-byte BGR image, else null. */
  private static byte[] bgrPixels(BufferedImage image) {
    return packed(image) && image.getType() == BufferedImage.TYPE_3BYTE_BGR
        ? ((DataBufferByte) image.getRaster().getDataBuffer()).getData()
        : null;
  }

  /** Whether the raster is a whole, unshifted buffer (what decoders make; sub-images are not). */
  private static boolean packed(BufferedImage image) {
    var raster = image.getRaster();
    return raster.getParent() == null
        && raster.getSampleModelTranslateX() == 0
        && raster.getSampleModelTranslateY() == 0
        && raster.getDataBuffer().getOffset() == 0
        && raster.getDataBuffer().getNumBanks() == 1;
  }

  /** Row {@code y}'s grey levels in thousandths; {@code rgb} is scratch of the image's width. */
  private static void grey(BufferedImage image, int y, int[] out, int[] rgb) {
    int width = image.getWidth();
    var raster = image.getRaster();
    int type = packed(image) ? image.getType() : BufferedImage.TYPE_CUSTOM;
    if (type == BufferedImage.TYPE_3BYTE_BGR) {
      byte[] data = ((DataBufferByte) raster.getDataBuffer()).getData();
      int at = y * width * 3;
      for (int x = 0; x < width; x++, at += 3) {
        out[x] =
            114 * (data[at] & 0xff) + 587 * (data[at + 1] & 0xff) + 299 * (data[at + 2] & 0xff);
      }
      return;
    }
    int[] pixels;
    int at;
    if (type == BufferedImage.TYPE_INT_RGB || type == BufferedImage.TYPE_INT_ARGB) {
      pixels = ((DataBufferInt) raster.getDataBuffer()).getData();
      at = y * width;
    } else {
      image.getRGB(0, y, width, 1, rgb, 0, width);
      pixels = rgb;
      at = 0;
    }
    for (int x = 0; x < width; x++) {
      int p = pixels[at + x];
      out[x] = 299 * ((p >> 16) & 0xff) + 587 * ((p >> 8) & 0xff) + 114 * (p & 0xff);
    }
  }
}
