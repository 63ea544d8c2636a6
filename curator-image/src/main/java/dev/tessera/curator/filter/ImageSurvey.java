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
    // Cell column c covers x in [start[c], start[c + 1]): x belongs to cell x * 64 / width.
    int[] start = new int[CELLS + 1];
    for (int c = 0; c <= CELLS; c++) {
      start[c] = (int) (((long) c * width + CELLS - 1) / CELLS);
    }
    long[][] sums = new long[CELLS][CELLS];
    int[] rowsIn = new int[CELLS];
    int stepX = Math.max(1, width / GRID);
    int stepY = Math.max(1, height / GRID);
    long gridSum = 0;
    long gridSquares = 0;
    long gridCount = 0;
    int[] row = new int[width];
    int[] rgb = new int[width];
    // Rows of one cell row are added column by column first (a vectorisable loop); the band is
    // cut into its 64 cells once, when the next cell row begins.
    long[] band = new long[width];
    int bandRow = 0;
    byte[] bgr = bgrPixels(image);
    for (int y = 0; y < height; y++) {
      int cy = (int) ((long) y * CELLS / height);
      if (cy != bandRow) {
        cutBand(band, start, sums[bandRow]);
        bandRow = cy;
      }
      rowsIn[cy]++;
      boolean gridRow = y % stepY == 0;
      if (bgr != null && (!gridRow || stepX == 1)) {
        // 3-byte BGR (JPEG): grey levels computed and summed straight from the raster bytes.
        int at = y * width * 3;
        if (gridRow) {
          for (int x = 0; x < width; x++, at += 3) {
            long value =
                114 * (bgr[at] & 0xff) + 587 * (bgr[at + 1] & 0xff) + 299 * (bgr[at + 2] & 0xff);
            band[x] += value;
            gridSum += value;
            gridSquares += value * value;
          }
          gridCount += width;
        } else {
          for (int x = 0; x < width; x++, at += 3) {
            band[x] +=
                114 * (bgr[at] & 0xff) + 587 * (bgr[at + 1] & 0xff) + 299 * (bgr[at + 2] & 0xff);
          }
        }
        continue;
      }
      grey(image, y, row, rgb);
      if (gridRow && stepX == 1) {
        // One unit-stride pass (most images are under 512 pixels wide): band and grid sums.
        for (int x = 0; x < width; x++) {
          long value = row[x];
          band[x] += value;
          gridSum += value;
          gridSquares += value * value;
        }
        gridCount += width;
      } else {
        for (int x = 0; x < width; x++) {
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
    cutBand(band, start, sums[bandRow]);
    double[][] grey = new double[CELLS][CELLS];
    for (int y = 0; y < CELLS; y++) {
      for (int x = 0; x < CELLS; x++) {
        long count = (long) rowsIn[y] * (start[x + 1] - start[x]);
        grey[y][x] =
            count > 0
                ? sums[y][x] / (1000.0 * count)
                : x > 0 ? grey[y][x - 1] : y > 0 ? grey[y - 1][x] : 0;
      }
    }
    double mean = (double) gridSum / gridCount;
    double variance = Math.max(0, (double) gridSquares / gridCount - mean * mean);
    return new ImageSurvey(Math.sqrt(variance) / 1000.0, grey);
  }

  /** Adds the band's column sums into its cells' sums and clears the band. */
  private static void cutBand(long[] band, int[] start, long[] cellSums) {
    for (int c = 0; c < CELLS; c++) {
      long sum = 0;
      for (int x = start[c]; x < start[c + 1]; x++) {
        sum += band[x];
        band[x] = 0;
      }
      cellSums[c] += sum;
    }
  }

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
