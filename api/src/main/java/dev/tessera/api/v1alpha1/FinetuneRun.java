package dev.tessera.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** Fine-tunes a pre-trained model on LLaVA conversations over N nodes of GPUs. */
@Group(Api.GROUP)
@Version(Api.VERSION)
@ShortNames("ftr")
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
    name = "Step",
    jsonPath = ".status.progress.step",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Loss",
    jsonPath = ".status.progress.loss",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Tokens/s",
    jsonPath = ".status.progress.tokensPerSecond",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "MFU",
    jsonPath = ".status.progress.mfu",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Eval-Loss",
    jsonPath = ".status.progress.evalLoss",
    type = AdditionalPrinterColumn.Type.NUMBER,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Restarts",
    jsonPath = ".status.restarts",
    type = AdditionalPrinterColumn.Type.INTEGER,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class FinetuneRun extends CustomResource<FinetuneRunSpec, TesseraStatus>
    implements Namespaced {
  private static final long serialVersionUID = 1L;

  @Override
  protected TesseraStatus initStatus() {
    return new TesseraStatus();
  }
}
