package dev.tessera.curator.pack;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Map;
import java.util.TreeMap;

/**
 * What scanning one input shard found; stored next to its scan file, and written after it, so its
 * presence marks the shard as scanned.
 *
 * @param source the input shard's file name
 * @param sourceBytes its size, so a resumed run notices a replaced input
 * @param read samples the reader delivered or dropped
 * @param kept samples in the scan file
 * @param dropped samples dropped, by reason
 * @param readProblems problems the WebDataset reader counted, by kind
 * @param truncated kept samples whose caption was cut
 */
@JsonPropertyOrder({
  "source",
  "sourceBytes",
  "read",
  "kept",
  "dropped",
  "readProblems",
  "truncated"
})
// A summary an earlier version wrote (with textTokens, now derived from the plan) still reads.
@JsonIgnoreProperties(ignoreUnknown = true)
record ScanSummary(
    String source,
    long sourceBytes,
    long read,
    long kept,
    Map<String, Long> dropped,
    Map<String, Long> readProblems,
    long truncated) {
  ScanSummary {
    dropped = new TreeMap<>(dropped);
    readProblems = new TreeMap<>(readProblems);
  }
}
