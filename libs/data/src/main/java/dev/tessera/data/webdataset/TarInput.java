package dev.tessera.data.webdataset;

import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * commons-compress's tar parser, told where the next header is. The reader takes member bytes as
 * slices of the mapped file and moves the underlying stream past them itself; without this the
 * parser would read every member through a skip buffer, copying the whole shard once more.
 */
final class TarInput extends TarArchiveInputStream {

  TarInput(MappedFileInput input) {
    super(input);
  }

  /**
   * Forgets the current entry: its data (and padding) have been passed on the underlying stream, so
   * the next {@link #getNextEntry()} reads the next header straight away.
   */
  void entryConsumed() {
    setCurrentEntry(null);
  }
}
