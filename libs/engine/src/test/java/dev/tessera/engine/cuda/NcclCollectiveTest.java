package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.dist.Collective;
import dev.tessera.engine.dist.InProcessCollective;
import dev.tessera.engine.dist.PeerLostException;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** What of the NCCL collective runs without a GPU: the unique id's trip through the host ranks. */
class NcclCollectiveTest {
  @Test
  void theUniqueIdSurvivesTheHostCollectivesByteForByte() throws Exception {
    byte[] id = new byte[NcclCollective.UNIQUE_ID_BYTES];
    new SplittableRandom(1).nextBytes(id);
    id[0] = (byte) 0xff;
    id[1] = 0;
    id[2] = (byte) 0x80;
    List<Collective> group = InProcessCollective.group(2);
    float[] onRank1 = new float[id.length];
    Thread other =
        new Thread(() -> group.get(1).broadcast(onRank1, 0, onRank1.length, 0), "rank 1");
    other.start();
    float[] onRank0 = NcclCollective.encode(id);
    group.get(0).broadcast(onRank0, 0, onRank0.length, 0);
    other.join();
    assertThat(NcclCollective.decode(onRank1)).containsExactly(id);
  }

  @Test
  void aDamagedIdIsRefused() {
    assertThatThrownBy(() -> NcclCollective.decode(new float[] {1, 2.5f}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("element 1 = 2.5");
    assertThatThrownBy(() -> NcclCollective.decode(new float[] {256}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** A remote error is a lost peer (the trainer exits as such); other errors stay CUDA errors. */
  @Test
  void aRemoteErrorIsALostPeer() {
    RuntimeException remote =
        NcclCollective.failure(
            NcclCollective.NCCL_REMOTE_ERROR, "ncclAllReduce", "remote process exited");
    assertThat(remote)
        .isInstanceOf(PeerLostException.class)
        .hasMessage("ncclAllReduce failed: remote process exited (ncclResult 6)")
        .hasCauseInstanceOf(CudaException.class);
    assertThat(NcclCollective.failure(4, "ncclAllReduce", null))
        .isInstanceOf(CudaException.class)
        .hasMessage("ncclAllReduce failed: unknown NCCL error (ncclResult 4)");
  }
}
