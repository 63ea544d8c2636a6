package dev.tessera.trainer.pretrain;

import java.io.PrintWriter;

/**
 * The damaged rows (packed sequences, conversations) one rank has passed over, each named in the
 * log as it happens. The trainer sums the counts over the ranks every step, carries the run's total
 * in its checkpoints, and stops the run once the total passes {@code --max-damaged-sequences}.
 */
public final class PassedOver {
  private final int rank;
  private final PrintWriter log;
  private final String rows;
  private final String hint;
  private long count;
  private String last;

  /**
   * @param rows what a damaged row is, in the plural ("damaged packed sequences")
   * @param hint where to look when there are too many, or empty
   */
  public PassedOver(int rank, PrintWriter log, String rows, String hint) {
    this.rank = rank;
    this.log = log;
    this.rows = rows;
    this.hint = hint;
  }

  /** Records one row passed over; {@code what} names it and why it could not be used. */
  public synchronized void add(String what) {
    count++;
    last = what;
    log.printf("warning: rank %d passes over %s%n", rank, what);
    log.flush();
  }

  /** How many rows this rank has passed over since it opened its data. */
  public synchronized long count() {
    return count;
  }

  /**
   * The failure once the run's total passes the limit, naming this rank's last row when it passed
   * one over (the other ranks' logs name theirs).
   */
  synchronized TooManyDamagedException tooMany(long total, int limit) {
    String message =
        total
            + " "
            + rows
            + " passed over in this run, more than --max-damaged-sequences "
            + limit
            + (hint.isEmpty() ? "" : " (" + hint + ")")
            + (last == null
                ? "; rank " + rank + " passed over none of them"
                : "; the last on rank " + rank + ": " + last);
    return new TooManyDamagedException(message, last != null);
  }
}
