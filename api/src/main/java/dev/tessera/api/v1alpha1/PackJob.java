package dev.tessera.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** Packs image-text samples into fixed-length training sequences (global first-fit decreasing). */
@Group(Api.GROUP)
@Version(Api.VERSION)
@ShortNames("pj")
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
    name = "Progress",
    jsonPath = ".status.progress.percent",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Sequences",
    jsonPath = ".status.progress.sequences",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Fill",
    jsonPath = ".status.progress.fillRatio",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class PackJob extends CustomResource<PackJobSpec, TesseraStatus> implements Namespaced {
  private static final long serialVersionUID = 1L;

  @Override
  protected TesseraStatus initStatus() {
    return new TesseraStatus();
  }
}
