// The mmmamba CLI as a user runs it: help for every command, the create -> seed -> check -> logits ->
// export -> chat pipeline, and clear non-zero exits on bad input and damaged checkpoints.
#include <ATen/ATen.h>

#include "bench/benchmark.h"
#include "data/conversation.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "models/vlm_model.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;

namespace {

struct Run {
  int code = -1;
  QString out, err;
};

Run mmmamba(const QStringList& args) {
  QProcess p;
  p.start(qEnvironmentVariable("MMMAMBA_CLI"), args);
  p.closeWriteChannel();
  Run r;
  if (!p.waitForFinished(120000)) return r;
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString path(const char* name) const { return dir_.filePath(name); }

 private slots:
  void initTestCase() { QVERIFY2(!qEnvironmentVariable("MMMAMBA_CLI").isEmpty(), "run through CTest (MMMAMBA_CLI)"); }

  void everyCommandHasHelp() {
    const Run top = mmmamba({"--help"});
    QCOMPARE(top.code, 0);
    for (const char* cmd : {"info", "create", "seed", "chat", "logits", "export", "make-data", "bench"}) {
      const Run r = mmmamba({cmd, "--help"});
      QCOMPARE(r.code, 0);
      QVERIFY2(r.out.contains(QString("usage: mmmamba ") + cmd), qPrintable(r.out));
    }
    QCOMPARE(mmmamba({"frobnicate"}).code, 2);
    const Run bad = mmmamba({"info", "--frobnicate"});
    QCOMPARE(bad.code, 1);
    QVERIFY(bad.err.contains("unknown option --frobnicate"));
  }

  void pipelineFromTeacherToStudent() {
    Run r = mmmamba({"create", "--arch", "micro", "--out", path("teacher"), "--seed", "3"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = mmmamba({"seed", "--teacher", path("teacher"), "--plan", "interval:3", "--out", path("student")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.out.contains("q_proj.weight") && r.out.contains("inherited"));
    QVERIFY(QFile::exists(path("student/seeding_report.json")) && QFile::exists(path("student/tokenizer.model")));
    r = mmmamba({"info", path("student"), "--check"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.out.contains("hybrid student") && r.out.contains("every tensor matches"));

    // logits from the CLI equal an in-process forward of the same checkpoint.
    r = mmmamba({"logits", path("student"), "--ids", "1,20,30,40,50", "--out", path("logits.safetensors")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const SafetensorsDir f = SafetensorsDir::open(path("logits.safetensors").toStdString());
    const at::Tensor logits = read_tensor(f, "logits");
    const Checkpoint ck = load_checkpoint(path("student").toStdString());
    const at::Tensor ids = at::tensor(std::vector<int64_t>{1, 20, 30, 40, 50}, at::kLong).view({1, -1});
    const at::Tensor expect = VlmModel(ck.config, ck.weights).forward(ids)[0];
    QVERIFY(at::allclose(logits, expect, 1e-5, 1e-5));
    QVERIFY(at::equal(read_tensor(f, "input_ids"), ids.view({-1})));

    r = mmmamba({"logits", path("student"), "--text", "Is there a red circle?", "--out", path("text.safetensors")});
    QVERIFY2(r.code == 0, qPrintable(r.err));

    r = mmmamba({"export", path("student"), "--out", path("student-bf16"), "--dtype", "bf16"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.out.contains("identical"));

    r = mmmamba({"chat", path("student"), "--prompt", "Is there a red circle?", "--max-new-tokens", "5"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("tok/s") && r.err.contains("first token"), qPrintable(r.err));
  }

  void badInputGetsClearErrors() {
    Run r = mmmamba({"info", path("nowhere")});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("config.json") && r.err.contains("HINT"));
    r = mmmamba({"seed", "--teacher", path("teacher"), "--out", path("x"), "--plan", "sometimes"});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("layer plan"));
    r = mmmamba({"chat", path("teacher"), "--prompt", "hi", "--temperature", "-1"});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("temperature"));
    r = mmmamba({"chat", path("teacher"), "--prompt", "hi", "--image", path("missing.png")});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("missing.png"));
    r = mmmamba({"logits", path("teacher"), "--ids", "1,99999", "--out", path("o.safetensors")});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("99999"));

    // A truncated weights file: a clear error, no crash, from every command that reads it.
    QVERIFY(QFile::copy(path("teacher/config.json"), path("config-only.json")));
    QDir().mkpath(path("broken"));
    QFile::copy(path("teacher/config.json"), path("broken/config.json"));
    QFile src(path("teacher/model.safetensors"));
    QVERIFY(src.open(QIODevice::ReadOnly));
    QFile dst(path("broken/model.safetensors"));
    QVERIFY(dst.open(QIODevice::WriteOnly));
    dst.write(src.read(src.size() / 2));
    dst.close();
    for (const QStringList& args : {QStringList{"info", path("broken"), "--check"},
                                    QStringList{"chat", path("broken"), "--prompt", "hi"},
                                    QStringList{"seed", "--teacher", path("broken"), "--out", path("y")}}) {
      r = mmmamba(args);
      QVERIFY2(r.code == 1, qPrintable(args.join(' ') + ": " + r.err));
      QVERIFY2(r.err.contains("HINT"), qPrintable(r.err));
    }
  }

  void makeDataWritesADatasetAndATokenizer() {
    Run r = mmmamba({"make-data", "--out", path("scenes"), "--split", "val", "--count", "30", "--seed", "4",
                     "--families", "exist,count", "--questions-per-scene", "2", "--tokenizer", path("tok"), "--vocab", "512"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("30 samples") && r.out.contains("exist") && r.out.contains("count") && !r.out.contains("relation"),
             qPrintable(r.out));
    const auto records = data::read_jsonl(path("scenes/val.jsonl").toStdString());
    QCOMPARE(records.size(), size_t(30));
    QVERIFY(records[0].turns.size() >= 2 && records[0].turns[0].value.rfind("<image>\n", 0) == 0);
    QVERIFY(QFile::exists(path("tok/tokenizer.model")) && QFile::exists(path("tok/added_tokens.json")));

    r = mmmamba({"make-data", "--out", path("x"), "--families", "exist,colour"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("unknown question family 'colour'") && r.err.contains("HINT"), qPrintable(r.err));
    r = mmmamba({"make-data", "--out", path("x"), "--image-size", "110"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("multiple of 4"), qPrintable(r.err));
    r = mmmamba({"make-data", "--count", "5"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("--out DIR"), qPrintable(r.err));
  }

  void benchPrintsRowsAndWritesResults() {
    Run r = mmmamba({"bench", "--arch", "micro", "--plans", "teacher,linear", "--lengths", "16,8", "--repeats", "1",
                     "--tokens", "2", "--device", "cpu", "--json", path("bench.json"), "--csv", path("bench.csv")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("micro/teacher") && r.out.contains("micro/linear") && r.out.contains("ms/tok") &&
                 r.out.contains("wrote"), qPrintable(r.out));
    const BenchFile f = read_bench_json(path("bench.json").toStdString());
    QCOMPARE(f.rows.size(), size_t(8));  // 2 models x 2 lengths x 2 phases
    QCOMPARE(f.rows[0].length, int64_t(8));

    // A teacher checkpoint seeded into a student on the fly, decode only.
    r = mmmamba({"create", "--arch", "micro", "--out", path("bt"), "--no-tokenizer"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = mmmamba({"bench", path("bt"), "--plans", "interval:3", "--lengths", "8", "--mode", "decode",
                 "--repeats", "1", "--tokens", "1", "--device", "cpu"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("bt/interval:3") && r.out.contains("decode") && !r.out.contains("prefill "),
             qPrintable(r.out));

    r = mmmamba({"bench", "--lengths", "8"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no models") && r.err.contains("HINT"), qPrintable(r.err));
    r = mmmamba({"bench", "--arch", "micro", "--lengths", "8,x"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("--lengths"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
