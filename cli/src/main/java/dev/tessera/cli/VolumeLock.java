package dev.tessera.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * One {@code tessera run} at a time on a volume: an exclusive lock on {@code VOLUME/.tessera/lock},
 * held while the run lasts. Two runs on one volume would write the same stages' outputs and state
 * at once. The operating system drops the lock when the process ends, however it ends, so a killed
 * run leaves nothing stale behind; the file keeps the holder's pid and start time for the message
 * the next run prints.
 */
final class VolumeLock implements AutoCloseable {
  private final FileChannel channel;
  private final FileLock lock;

  private VolumeLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  static Path fileOf(Path volume) {
    return volume.resolve(".tessera").resolve("lock");
  }

  /**
   * Takes the volume's lock, or fails with a {@link PipelineError} naming the run that holds it.
   */
  static VolumeLock acquire(Path volume) throws IOException {
    Path file = fileOf(volume);
    Files.createDirectories(file.getParent());
    FileChannel channel =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null; // held by this JVM: another run in the same process
    } catch (IOException e) {
      channel.close();
      throw e;
    }
    if (lock == null) {
      String holder = Files.readString(file, StandardCharsets.UTF_8).strip();
      channel.close();
      throw new PipelineError(
          volume
              + " is in use by another `tessera run` ("
              + (holder.isEmpty() ? "just starting" : holder)
              + "): wait for it to finish or stop it; `tessera status` shows its progress");
    }
    String holder =
        "pid "
            + ProcessHandle.current().pid()
            + ", started "
            + Instant.now().truncatedTo(ChronoUnit.SECONDS);
    channel.truncate(0);
    channel.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
    return new VolumeLock(channel, lock);
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
