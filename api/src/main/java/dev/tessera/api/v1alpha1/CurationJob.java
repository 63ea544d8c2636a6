package dev.tessera.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Filters, scores, deduplicates and reshards image-text shards: score in parallel over input
 * shards, one global select, reshard in parallel.
 */
@Group(Api.GROUP)
@Version(Api.VERSION)
@ShortNames("cj")
@AdditionalPrinterColumn(
    name = "Phase",
    jsonPath = ".status.phase",
    type = AdditionalPrinterColumn.Type.STRING)
// Why it is in that phase: JobRunning, Completed, or what stops it (ImagePullBackOff,
// Unschedulable, OOMKilled, InputFailed, ...).
@AdditionalPrinterColumn(
    name = "Reason",
    jsonPath = ".status.conditions[?(@.type==\"Running\")].reason",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Stage",
    jsonPath = ".status.progress.stage",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Progress",
    jsonPath = ".status.progress.percent",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Kept",
    jsonPath = ".status.progress.kept",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Total",
    jsonPath = ".status.progress.samples",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class CurationJob extends CustomResource<CurationJobSpec, TesseraStatus>
    implements Namespaced {
  private static final long serialVersionUID = 1L;

  @Override
  protected TesseraStatus initStatus() {
    return new TesseraStatus();
  }
}
