package dev.tessera.trainer.pretrain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BackgroundWritesTest {
  @Test
  void aWriteRunsOnItsOwnThreadAndItsResultComesBackOnce() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (BackgroundWrites<String> writes = new BackgroundWrites<>(true)) {
      assertThat(
              writes.submit(
                  () -> {
                    release.await(10, TimeUnit.SECONDS);
                    return Thread.currentThread().getName();
                  }))
          .isEmpty();
      // Still writing: nothing to collect, and the caller is not held up.
      assertThat(writes.poll()).isEmpty();
      release.countDown();
      assertThat(writes.await()).contains("checkpoint-writer");
      assertThat(writes.await()).isEmpty();
      assertThat(writes.poll()).isEmpty();
    }
  }

  @Test
  void theNextWriteWaitsForTheOneBeforeAndHandsItsResultBack() throws Exception {
    try (BackgroundWrites<Integer> writes = new BackgroundWrites<>(true)) {
      writes.submit(
          () -> {
            Thread.sleep(200);
            return 1;
          });
      assertThat(writes.submit(() -> 2)).contains(1);
      assertThat(writes.await()).contains(2);
    }
  }

  @Test
  void aFailedWriteIsReportedToTheTrainingThread() throws Exception {
    try (BackgroundWrites<Integer> writes = new BackgroundWrites<>(true)) {
      writes.submit(
          () -> {
            throw new IOException("No space left on device");
          });
      assertThatThrownBy(writes::await)
          .isInstanceOf(IOException.class)
          .hasMessage("writing a checkpoint failed: No space left on device");
    }
  }

  @Test
  void inTheForegroundAWriteRunsAtOnceOnTheCallersThread() throws Exception {
    try (BackgroundWrites<String> writes = new BackgroundWrites<>(false)) {
      writes.submit(() -> Thread.currentThread().getName());
      assertThat(writes.poll()).isEqualTo(Optional.of(Thread.currentThread().getName()));
    }
  }
}
