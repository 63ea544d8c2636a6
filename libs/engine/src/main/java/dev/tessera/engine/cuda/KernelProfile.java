package dev.tessera.engine.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where device time goes, by operation: when profiling is on, the backend records an event on its
 * stream before and after each launch, GEMM, collective, fill and copy, and adds the device time
 * between the two to that operation's name. An operation's time therefore includes any wait of the
 * device for the host to queue it: a launch-bound operation shows as such. The host does not wait
 * for the events (they are read in batches), so a profiled step runs at about its normal speed.
 */
public final class KernelProfile {
  /** Calls and total seconds of one operation. */
  public record Entry(String name, long calls, double seconds) {}

  private final Map<String, long[]> totals = new LinkedHashMap<>();

  synchronized void add(String name, long nanos) {
    long[] total = totals.computeIfAbsent(name, k -> new long[2]);
    total[0]++;
    total[1] += nanos;
  }

  /** The operations, most time first. */
  public synchronized List<Entry> entries() {
    List<Entry> entries = new ArrayList<>();
    totals.forEach((name, total) -> entries.add(new Entry(name, total[0], total[1] / 1e9)));
    entries.sort((a, b) -> Double.compare(b.seconds(), a.seconds()));
    return entries;
  }

  /** A table of the {@code top} most expensive operations with their share of the total. */
  public String report(int top) {
    List<Entry> entries = entries();
    double total = entries.stream().mapToDouble(Entry::seconds).sum();
    StringBuilder text = new StringBuilder();
    text.append(
        String.format(Locale.ROOT, "%-58s %7s %10s %6s%n", "operation", "calls", "ms", "share"));
    for (Entry entry : entries.subList(0, Math.min(top, entries.size()))) {
      text.append(
          String.format(
              Locale.ROOT,
              "%-58s %7d %10.2f %5.1f%%%n",
              entry.name(),
              entry.calls(),
              entry.seconds() * 1e3,
              100 * entry.seconds() / total));
    }
    text.append(String.format(Locale.ROOT, "%-58s %7s %10.2f%n", "all", "", total * 1e3));
    return text.toString();
  }
}
