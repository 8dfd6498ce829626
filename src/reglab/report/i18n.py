"""The message catalogue: every sentence reglab writes for a person, in English and Vietnamese.

The source note is Vietnamese; ``--lang vi`` gives its readers the explain page, the report's
prose, the diagnosis and the verdicts in Vietnamese, in the note's own terms ("giảm
overfitting", "trọng số", "hệ số điều chỉnh", "dừng training khi loss không giảm") and with the
technical English words the note itself keeps (overfitting, dropout, weight decay, validation
loss, early stopping, augmentation). English is the default and its texts are the ones the
rest of reglab always printed.

One key, one template per language, filled with :meth:`str.format`: numbers are formatted by
the template's own format spec (``{n[l1_lambda]:g}``) or passed already formatted (``pct``,
``format_num``), identically in both languages. A key must exist in every language of
:data:`LANGS`; a test checks it, and that a Vietnamese template is not the English one.

Adding an explain topic (e.g. ``shuffle``): add its keys to :data:`EXPLAIN` as
``"explain.shuffle.question"`` (equal to ``QUESTIONS["shuffle"]`` in English), one key per
sentence of its answer (``"explain.shuffle.<part>"``) and per figure title / axis label
(``"explain.shuffle.fig.<part>"``); its ``measure(seed, quick, lang="en")`` renders them with
``t(key, lang, ...)``. The tests run every topic of ``TOPICS`` in both languages.

Example::

    >>> t("verdict.unclear", "vi", n=3)
    'chưa đo được tác dụng với n=3'
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Sequence
from typing import Any

from reglab._validation import check_choice
from reglab.lab.arms import NOTE_SAYS
from reglab.lab.label_check import TEXTS as LABEL_CHECK_TEXTS
from reglab.lab.path import SUMMARY_TEXTS as PATH_TEXTS
from reglab.lab.stats import format_num

__all__ = ["LANGS", "CATALOGUE", "SAME_IN_BOTH", "t", "check_lang", "labels", "verdicts",
           "intervals_note", "note_says", "status", "reason", "texts"]

LANGS = ("en", "vi")

# -- explain: the note's section 9, one block per topic ------------------------------------
EXPLAIN: dict[str, tuple[str, str]] = {
    # the page
    "explain.page.intro": (
        "The interview questions of the source note (section 9), each answered by a\nshort "
        "experiment. Every sentence below is written from the numbers measured on this run\n"
        "(seed {seed}{reduced}); reglab {version}.",
        "Các câu hỏi phỏng vấn của ghi chú gốc (mục 9), mỗi câu được trả lời bằng một\nthí "
        "nghiệm ngắn. Mỗi câu dưới đây được viết từ các số đo được trong lần chạy này\n"
        "(seed {seed}{reduced}); reglab {version}."),
    "explain.page.reduced": (", reduced sizes", ", kích thước rút gọn"),
    "explain.page.numbers": ("Measured numbers ({count})", "Các số đo được ({count})"),
    "explain.page.name": ("name", "tên"),
    "explain.page.value": ("value", "giá trị"),
    "explain.page.topic": ("topic", "chủ đề"),
    "explain.page.ran": ("ran in {seconds} s", "chạy trong {seconds} s"),
    "explain.wrote": ("Wrote {path}", "Đã ghi {path}"),
    # l1-vs-l2
    "explain.l1-vs-l2.question": ("L1 vs L2: when should you use which?",
                                  "L1 vs L2, khi nào dùng cái nào?"),
    "explain.l1-vs-l2.acc_same": ("about the same test accuracy",
                                  "độ chính xác trên tập test gần như bằng nhau"),
    "explain.l1-vs-l2.acc_higher": ("higher test accuracy for L1",
                                    "L1 có độ chính xác trên tập test cao hơn"),
    "explain.l1-vs-l2.acc_lower": ("lower test accuracy for L1",
                                   "L1 có độ chính xác trên tập test thấp hơn"),
    "explain.l1-vs-l2.result": (
        "On the sparse data set ({n[n_features]:.0f} features, of which {n[n_informative]:.0f} "
        "carry the signal), L1 (proximal, λ={n[l1_lambda]:g}) set {p[l1_sparsity]} of the "
        "weights exactly to zero against L2's {p[l2_sparsity]} (λ={n[l2_lambda]:g}, both λ "
        "chosen on validation). L1 kept {n[l1_features_used]:.0f} features, "
        "{n[l1_informative_found]:.0f} of them informative (precision {p[l1_precision]}, "
        "recall {p[l1_recall]}); L2 kept {n[l2_features_used]:.0f} (precision "
        "{p[l2_precision]}, recall {p[l2_recall]}). Test accuracy was {p[l1_test_acc]} for L1 "
        "and {p[l2_test_acc]} for L2: {acc}. ",
        "Trên tập dữ liệu sparse ({n[n_features]:.0f} feature, trong đó "
        "{n[n_informative]:.0f} feature mang tín hiệu), L1 (proximal, hệ số điều chỉnh "
        "λ={n[l1_lambda]:g}) đưa {p[l1_sparsity]} trọng số về đúng 0, so với "
        "{p[l2_sparsity]} của L2 (λ={n[l2_lambda]:g}; cả hai λ được chọn trên tập "
        "validation). L1 giữ {n[l1_features_used]:.0f} feature, {n[l1_informative_found]:.0f} "
        "trong số đó có thông tin (precision {p[l1_precision]}, recall {p[l1_recall]}); L2 giữ "
        "{n[l2_features_used]:.0f} feature (precision {p[l2_precision]}, recall "
        "{p[l2_recall]}). Độ chính xác trên tập test là {p[l1_test_acc]} với L1 và "
        "{p[l2_test_acc]} với L2: {acc}. "),
    "explain.l1-vs-l2.selects": (
        "So use L1 when you expect few inputs to matter and want the model to name them "
        "(feature selection); use L2 when most inputs carry some signal and you want small, "
        "stable weights, since it shrinks but does not select.",
        "Vậy hãy dùng L1 khi chỉ có ít input quan trọng và muốn mô hình chỉ ra chúng "
        "(feature selection, sparse weights); dùng L2 khi phần lớn input đều mang tín hiệu và "
        "muốn trọng số nhỏ, ổn định, vì L2 làm trọng số giảm dần nhưng không chọn feature."),
    "explain.l1-vs-l2.no_select": (
        "Here L1 did not select features better than L2, so its usual selling point "
        "(sparsity, feature selection) did not show up at this λ.",
        "Ở đây L1 không chọn feature tốt hơn L2, nên ưu điểm thường thấy của nó "
        "(sparse weights, feature selection) không xuất hiện với λ này."),
    "explain.l1-vs-l2.fig.title": ("Largest |weight| per feature",
                                   "|trọng số| lớn nhất của mỗi feature"),
    "explain.l1-vs-l2.fig.l1": ("L1 (proximal)", "L1 (proximal)"),
    "explain.l1-vs-l2.fig.panel": ("{name}: {zeros} exact zeros (red: informative features)",
                                   "{name}: {zeros} trọng số đúng bằng 0 (đỏ: feature có "
                                   "thông tin)"),
    "explain.l1-vs-l2.fig.feature": ("feature", "feature (đặc trưng)"),
    # dropout
    "explain.dropout.question": ("How does dropout act in the forward and the backward pass?",
                                 "Dropout ảnh hưởng đến forward/backward như thế nào?"),
    "explain.dropout.preserved": ("so the expected activation is preserved",
                                  "nên kỳ vọng của activation được giữ nguyên"),
    "explain.dropout.not_preserved": ("further from 1 than sampling noise explains",
                                      "xa 1 hơn mức nhiễu lấy mẫu có thể giải thích"),
    "explain.dropout.exactly": ("exactly", "một cách chính xác"),
    "explain.dropout.within": ("to within {err:.1e}", "sai khác không quá {err:.1e}"),
    "explain.dropout.blocked": (" (no update through them this step)",
                                " (không có cập nhật nào đi qua chúng ở bước này)"),
    "explain.dropout.identity": ("is the identity", "là hàm đồng nhất"),
    "explain.dropout.changed": ("changed the input", "đã làm thay đổi input"),
    "explain.dropout.kept_exact": (" and kept units got exactly 1/keep",
                                   " và các neuron được giữ nhận đúng 1/keep"),
    "explain.dropout.result": (
        "Forward, in training mode: rl.Dropout(keep={n[keep]:g}) multiplied each of "
        "{n[n_activations]:.0f} activations by a Bernoulli({n[keep]:g}) mask d_i and by "
        "1/keep = {n[scale]:.3g}; it kept {p[fraction_kept]} of them, and the output was "
        "x·d/keep to within {n[max_output_error]:.1e}. Because of the 1/keep scaling the mean "
        "activation was {n[mean_ratio]:.3f} times the input's, {preserved}. Backward: the same "
        "mask gates the gradient: x.grad equalled mask/keep {grad}; dropped units got gradient "
        "{n[dropped_grad_max]:g}{blocked}{kept}. In eval mode the layer {identity} "
        "(max |y − x| = {n[eval_max_diff]:g}), so nothing has to be rescaled at test time.",
        "Forward, ở chế độ training: rl.Dropout(keep={n[keep]:g}) nhân mỗi activation trong "
        "{n[n_activations]:.0f} activation với một mask d_i ~ Bernoulli({n[keep]:g}) (p = keep "
        "probability) và với 1/keep = {n[scale]:.3g}; nó giữ lại {p[fraction_kept]} neuron, và "
        "output bằng x·d/keep với sai số không quá {n[max_output_error]:.1e}. Nhờ phép nhân "
        "1/keep, activation trung bình bằng {n[mean_ratio]:.3f} lần của input, {preserved}. "
        "Backward: cùng mask đó chặn gradient: x.grad bằng mask/keep {grad}; các neuron bị "
        "loại bỏ nhận gradient {n[dropped_grad_max]:g}{blocked}{kept}. Ở chế độ eval, layer "
        "{identity} (max |y − x| = {n[eval_max_diff]:g}), nên không cần scale lại khi test."),
    "explain.dropout.fig.title": ("One 6 x 12 corner of the batch, train and eval",
                                  "Một góc 6 x 12 của batch, khi training và khi eval"),
    "explain.dropout.fig.input": ("input x", "input x"),
    "explain.dropout.fig.train": ("train output x·d/keep", "output khi training x·d/keep"),
    "explain.dropout.fig.grad": ("x.grad (= d/keep)", "x.grad (= d/keep)"),
    "explain.dropout.fig.eval": ("eval output (= x)", "output khi eval (= x)"),
    # early stopping
    "explain.early-stopping.question": ("Can early stopping cause underfitting?",
                                        "Early stopping có thể gây underfitting không?"),
    "explain.early-stopping.result": (
        "The three arms are one run up to their stopping rule (same seed, same batches, noisy "
        "validation loss from small batches). With patience 1, training stopped after "
        "{n[p1_epochs]:.0f} epochs (best epoch {n[p1_best_epoch]:.0f}) at {p[p1_train_acc]} "
        "training and {p[p1_test_acc]} test accuracy; with patience 15 it ran "
        "{n[p15_epochs]:.0f} epochs (best epoch {n[p15_best_epoch]:.0f}) and reached "
        "{p[p15_train_acc]} training and {p[p15_test_acc]} test accuracy; without early "
        "stopping, {n[none_epochs]:.0f} epochs gave {p[none_train_acc]} and "
        "{p[none_test_acc]}. ",
        "Ba nhánh là cùng một lần chạy cho đến khi quy tắc dừng của mỗi nhánh tác động (cùng "
        "seed, cùng batch, validation loss nhiễu vì batch nhỏ). Với patience 1, early stopping "
        "dừng training sau {n[p1_epochs]:.0f} epoch (epoch tốt nhất {n[p1_best_epoch]:.0f}) với "
        "độ chính xác {p[p1_train_acc]} trên tập training và {p[p1_test_acc]} trên tập test; "
        "với patience 15, training chạy {n[p15_epochs]:.0f} epoch (epoch tốt nhất "
        "{n[p15_best_epoch]:.0f}) và đạt {p[p15_train_acc]} trên tập training, "
        "{p[p15_test_acc]} trên tập test; không có early stopping, {n[none_epochs]:.0f} epoch "
        "cho {p[none_train_acc]} và {p[none_test_acc]}. "),
    "explain.early-stopping.underfit": (
        "So yes: the tiny patience took the first bump of the noisy validation loss for the "
        "minimum and stopped before the model had fit the training data ({short:.1f} points "
        "of training accuracy short), which is underfitting caused by early stopping. ",
        "Vậy là có: patience quá nhỏ coi chỗ nhô đầu tiên của validation loss nhiễu là cực "
        "tiểu, nên dừng training khi loss không giảm trước khi mô hình học xong dữ liệu "
        "training (thiếu {short:.1f} điểm độ chính xác trên tập training): đó là underfitting "
        "do early stopping gây ra. "),
    "explain.early-stopping.no_underfit": (
        "Here even patience 1 did not stop before the model fit the training data, so it did "
        "not underfit on this run. ",
        "Ở đây ngay cả patience 1 cũng không dừng trước khi mô hình học xong dữ liệu "
        "training, nên lần chạy này không bị underfitting. "),
    "explain.early-stopping.gained": (
        "A sensible patience gained {points:.1f} points of test accuracy against training to "
        "the end.",
        "Một patience hợp lý được thêm {points:.1f} điểm độ chính xác trên tập test so với "
        "training đến hết."),
    "explain.early-stopping.lost": (
        "A sensible patience lost {points:.1f} points of test accuracy against training to "
        "the end.",
        "Một patience hợp lý mất {points:.1f} điểm độ chính xác trên tập test so với training "
        "đến hết."),
    "explain.early-stopping.fig.title": ("Loss curves of the full run, with each rule's stop",
                                         "Các đường loss của lần chạy đầy đủ, với điểm dừng "
                                         "của mỗi quy tắc"),
    "explain.early-stopping.fig.train": ("training loss (mean over the epoch's batches)",
                                         "training loss (trung bình trên các batch của epoch)"),
    "explain.early-stopping.fig.val": ("validation loss", "validation loss"),
    "explain.early-stopping.fig.stop": ("patience {patience} stops (best epoch {best:.0f})",
                                        "patience {patience} dừng (epoch tốt nhất {best:.0f})"),
    "explain.early-stopping.fig.epoch": ("epoch", "epoch (vòng huấn luyện)"),
    # shuffle (the note's section-6 pitfall: no shuffle before early stopping)
    "explain.shuffle.question": (
        "What goes wrong with early stopping when the data is not shuffled?",
        "Không shuffle dữ liệu khi early stopping thì sai ở đâu?"),
    "explain.shuffle.result": (
        "Wine lists its rows by class ({runs:.0f} label runs over {rows:.0f} rows; about "
        "{expected:.0f} in random order). Split in file order, train holds classes {train}, "
        "validation {val} and test {test}: early stopping chose epoch {n[unshuffled_best_epoch]:.0f} "
        "on a validation accuracy of {p[unshuffled_val_acc]}, while the test accuracy is "
        "{p[unshuffled_test_acc]}, {gap_u:.1f} points apart. The same model on a shuffled, "
        "stratified split: validation {p[shuffled_val_acc]} at epoch "
        "{n[shuffled_best_epoch]:.0f}, test {p[shuffled_test_acc]}, {gap_s:.1f} points apart. ",
        "Wine liệt kê các dòng theo lớp ({runs:.0f} đoạn nhãn liền nhau trên {rows:.0f} dòng; "
        "khoảng {expected:.0f} nếu thứ tự ngẫu nhiên). Chia theo thứ tự của file, tập training "
        "có các lớp {train}, tập validation {val} và tập test {test}: early stopping chọn epoch "
        "{n[unshuffled_best_epoch]:.0f} theo độ chính xác {p[unshuffled_val_acc]} trên tập "
        "validation, trong khi độ chính xác trên tập test là {p[unshuffled_test_acc]}, lệch "
        "nhau {gap_u:.1f} điểm. Cùng mô hình trên cách chia đã shuffle và phân tầng: tập "
        "validation {p[shuffled_val_acc]} ở epoch {n[shuffled_best_epoch]:.0f}, tập test "
        "{p[shuffled_test_acc]}, lệch nhau {gap_s:.1f} điểm. "),
    "explain.shuffle.fair": (
        "Shuffling made the validation score a fair estimate of the test score.",
        "Shuffle làm cho điểm trên tập validation trở thành ước lượng đúng của điểm trên tập "
        "test."),
    "explain.shuffle.unfair": (
        "Here shuffling did not bring the two closer; rerun with another seed.",
        "Ở đây shuffle không làm hai điểm gần nhau hơn; hãy chạy lại với seed khác."),
    "explain.shuffle.warns": (
        " reglab warns when labels come in long runs and the split does not shuffle.",
        " reglab cảnh báo khi nhãn đến thành từng đoạn dài mà cách chia không shuffle."),
    "explain.shuffle.fig.title": ("validation estimate vs test, unshuffled and shuffled",
                                  "ước lượng trên tập validation so với tập test, chưa "
                                  "shuffle và đã shuffle"),
    "explain.shuffle.fig.val": ("validation accuracy", "độ chính xác trên tập validation"),
    "explain.shuffle.fig.test": ("test accuracy", "độ chính xác trên tập test"),
    "explain.shuffle.fig.chosen": ("chosen epoch", "epoch được chọn"),
    "explain.shuffle.fig.panel": ("wine, {arm} split", "wine, cách chia {arm}"),
    "explain.shuffle.fig.epoch": ("epoch", "epoch (vòng huấn luyện)"),
    # augmentation
    "explain.augmentation.question": ("How does data augmentation reduce overfitting?",
                                      "Data augmentation giúp giảm overfitting ra sao?"),
    "explain.augmentation.at_n": ("{value} at n={size}", "{value} tại n={size}"),
    "explain.augmentation.result": (
        "Augmentation turns each training example into a family of examples, so the model can "
        "no longer memorize the exact inputs. Measured on mnist1d signals with random shifts "
        "up to {shift} of the length, amplitude scaling {low:g}-{high:g} and Gaussian noise "
        "{noise:g} (the 1-D forms of the note's rotation, scaling and noise), the same MLP and "
        "about {n[steps]:.0f} steps (whole epochs: {epochs}): the train-test accuracy gap "
        "without augmentation was {plain}; with augmentation it was {aug}. Augmentation "
        "narrowed the gap at {narrowed} of {sizes} training-set sizes",
        "Augmentation biến đổi input, biến mỗi mẫu training thành cả một họ mẫu, nên mô hình "
        "không thể học thuộc đúng từng input nữa. Đo trên tín hiệu mnist1d với dịch ngẫu "
        "nhiên tới {shift} độ dài, scaling biên độ {low:g}-{high:g} và noise Gauss {noise:g} "
        "(dạng 1-D của rotation, scaling và noise trong ghi chú), cùng một MLP và khoảng "
        "{n[steps]:.0f} bước (số epoch nguyên: {epochs}): khoảng cách độ chính xác giữa tập "
        "training và tập test khi không có augmentation là {plain}; khi có augmentation là "
        "{aug}. Augmentation thu hẹp khoảng cách ở {narrowed} trên {sizes} kích thước tập "
        "training"),
    "explain.augmentation.most": (
        ", most at n={best} (from {plain_gap} to {aug_gap}, test accuracy {plain_acc} → "
        "{aug_acc})",
        ", nhiều nhất tại n={best} (từ {plain_gap} xuống {aug_gap}, độ chính xác trên tập "
        "test {plain_acc} → {aug_acc})"),
    "explain.augmentation.shrank": (". Without augmentation the gap shrank as the training "
                                    "set grew",
                                    ". Khi không có augmentation, khoảng cách thu hẹp lại khi "
                                    "tập training lớn dần"),
    "explain.augmentation.not_shrank": (". Without augmentation the gap did not shrink "
                                        "steadily as the training set grew",
                                        ". Khi không có augmentation, khoảng cách không thu hẹp "
                                        "đều khi tập training lớn dần"),
    "explain.augmentation.scarce": (
        ", and augmentation helped most at the smallest size: it acts like extra data, and "
        "matters most when data is scarce",
        ", và augmentation giúp nhiều nhất ở kích thước nhỏ nhất: nó giống như tăng dữ liệu, "
        "và quan trọng nhất khi dữ liệu ít"),
    "explain.augmentation.fig.title": (
        "Generalization gap and test accuracy against training-set size",
        "Khoảng cách generalization và độ chính xác trên tập test theo kích thước tập "
        "training"),
    "explain.augmentation.fig.plain": ("no augmentation", "không augmentation"),
    "explain.augmentation.fig.aug": ("shift + scale + noise", "shift + scale + noise (có "
                                     "augmentation)"),
    "explain.augmentation.fig.gap": ("train acc − test acc", "độ chính xác training − test"),
    "explain.augmentation.fig.acc": ("test accuracy", "độ chính xác trên tập test"),
    "explain.augmentation.fig.size": ("training-set size", "kích thước tập training"),
    # weight decay
    "explain.weight-decay.question": ("What is weight decay, and how does it differ from L2?",
                                      "Weight decay là gì và khác gì với L2?"),
    "explain.weight-decay.same_sgd": ("the same trajectory up to rounding",
                                      "cùng một quỹ đạo, chỉ khác sai số làm tròn"),
    "explain.weight-decay.not_same_sgd": ("not the same trajectory", "không cùng một quỹ đạo"),
    "explain.weight-decay.same_adam": (", so it is L2, not decoupled decay",
                                       ", nên nó là L2, không phải decoupled weight decay"),
    "explain.weight-decay.is": ("is", "là"),
    "explain.weight-decay.no_difference": ("made no difference here, though it is",
                                           "không tạo khác biệt ở đây, dù nó vẫn là"),
    "explain.weight-decay.smaller": ("smaller", "nhỏ hơn"),
    "explain.weight-decay.larger": ("larger", "lớn hơn"),
    "explain.weight-decay.same_method": (", the same method", ", cùng một phương pháp"),
    "explain.weight-decay.result": (
        "Weight decay shrinks the weights inside the update, w ← w − lr·wd·w; L2 adds λ·Σw² "
        "to the loss, whose gradient 2λw gives the same shrink when λ = wd/2 (the note's L2 "
        "has no ½). Measured in float64 over {n[steps]:.0f} steps with wd = "
        "{n[weight_decay]:g}: SGD(weight_decay={n[weight_decay]:g}) and SGD + "
        "L2({n[l2_lambda]:g}) stayed within {n[sgd_max_diff]:.1e} of each other, {same_sgd}. "
        "torch's Adam(weight_decay=...) matched Adam + L2 to {n[adam_wd_vs_l2_max_diff]:.1e}"
        "{same_adam}. With Adam, the L2 gradient is divided by Adam's running scale like any "
        "other gradient, so AdamW's decoupled decay {differ} a different method: Adam + L2 and "
        "AdamW drifted apart by up to {n[adam_l2_vs_adamw_max_diff]:.3g} per weight, ending "
        "with weight norms {n[adam_l2_norm]:.3g} (Adam + L2) and {n[adamw_norm]:.3g} (AdamW, "
        "{smaller}) and test accuracies {p[adam_l2_test_acc]} and {p[adamw_test_acc]}. "
        "Adam + rl.DecoupledWeightDecay({n[weight_decay]:g}) stayed within "
        "{n[adamw_vs_dwd_max_diff]:.1e} of AdamW{same_method}.",
        "Weight decay làm trọng số giảm dần ngay trong bước cập nhật, w ← w − lr·wd·w; L2 "
        "thêm λ·Σw² vào loss, và gradient 2λw của nó cho cùng mức giảm khi λ = wd/2 (L2 trong "
        "ghi chú không có ½). Đo bằng float64 qua {n[steps]:.0f} bước với wd = "
        "{n[weight_decay]:g}: SGD(weight_decay={n[weight_decay]:g}) và SGD + "
        "L2({n[l2_lambda]:g}) cách nhau không quá {n[sgd_max_diff]:.1e}, {same_sgd}. "
        "Adam(weight_decay=...) của torch trùng với Adam + L2 tới {n[adam_wd_vs_l2_max_diff]:.1e}"
        "{same_adam}. Với Adam, gradient của L2 bị chia cho thang đo chạy của Adam như mọi "
        "gradient khác, nên decoupled weight decay của AdamW {differ} một phương pháp khác: "
        "Adam + L2 và AdamW lệch nhau tới {n[adam_l2_vs_adamw_max_diff]:.3g} trên mỗi trọng "
        "số, kết thúc với chuẩn trọng số {n[adam_l2_norm]:.3g} (Adam + L2) và "
        "{n[adamw_norm]:.3g} (AdamW, {smaller}) và độ chính xác trên tập test "
        "{p[adam_l2_test_acc]} và {p[adamw_test_acc]}. Adam + "
        "rl.DecoupledWeightDecay({n[weight_decay]:g}) cách AdamW không quá "
        "{n[adamw_vs_dwd_max_diff]:.1e}{same_method}."),
    "explain.weight-decay.fig.title": ("Distance between trajectories, and weight norms, per "
                                       "step",
                                       "Khoảng cách giữa các quỹ đạo, và chuẩn trọng số, theo "
                                       "từng bước"),
    "explain.weight-decay.fig.step": ("step", "bước"),
    "explain.weight-decay.fig.norm": ("‖w‖", "‖w‖ (chuẩn trọng số)"),
}

# -- the report: sections, captions and the template's prose ---------------------------------
REPORT: dict[str, tuple[str, str]] = {
    "report.title": ("reglab report: {name}", "báo cáo reglab: {name}"),
    "report.section.result": ("1. Result: each arm against none",
                              "1. Kết quả: từng nhánh so với none"),
    "report.section.run": ("2. What was run", "2. Những gì đã chạy"),
    "report.section.table": ("3. Measured comparison", "3. So sánh đo được"),
    "report.section.curves": ("4. Learning curves", "4. Đường học (learning curves)"),
    "report.section.gap": ("5. Generalization gap", "5. Khoảng cách generalization"),
    "report.section.weights": ("6. Weight distributions and sparsity",
                               "6. Phân phối trọng số và độ sparse"),
    "report.section.diagnosis": ("7. Diagnosis", "7. Chẩn đoán"),
    "report.caption.forest": (
        "The result: each arm minus none on the same seeds, test accuracy (left, points) and "
        "test loss (right). Dot = mean difference; thick bar = the interval the verdict uses; "
        "thin black line = the unadjusted 95% interval; grey band = the minimum effect. Look "
        "for bars clear of the band on the better side (green): only those arms measurably "
        "help. Intervals: {note}.",
        "Kết quả: từng nhánh trừ none trên cùng các seed, độ chính xác trên tập test (trái, "
        "điểm) và test loss (phải). Chấm = hiệu trung bình; thanh đậm = khoảng mà kết luận "
        "dùng; đường đen mảnh = khoảng 95% chưa hiệu chỉnh; dải xám = hiệu ứng tối thiểu. Hãy "
        "tìm các thanh nằm ngoài dải xám về phía tốt hơn (xanh lá): chỉ những nhánh đó giúp "
        "giảm overfitting một cách đo được. Khoảng: {note}."),
    "report.caption.learning_curves": (
        "Training and validation loss and accuracy per epoch (1 = first), every arm overlaid; "
        "line = mean over seeds, faint band = min-max. Dots: the best epoch whose weights "
        "early stopping restored; crosses: where it stopped. Look for validation loss turning "
        "up while training loss keeps falling (overfitting), and for arms whose training "
        "accuracy stays low (underfitting).",
        "Training loss, validation loss và độ chính xác theo từng epoch (1 = epoch đầu), mọi "
        "nhánh chồng lên nhau; đường = trung bình trên các seed, dải mờ = min-max. Chấm: epoch "
        "tốt nhất mà early stopping khôi phục trọng số; dấu chéo: nơi nó dừng training. Hãy "
        "tìm chỗ validation loss đi lên trong khi training loss vẫn giảm (overfitting), và các "
        "nhánh có độ chính xác training vẫn thấp (underfitting)."),
    "report.caption.gap": (
        "Train-test accuracy gap per arm (mean over seeds). Error bars: the unadjusted 95% "
        "paired interval of the arm's gap minus none's (how sure the difference is, not the "
        "spread over seeds); dashed line: none's gap. Green: measurably narrower than none's "
        "(by more than 0.5 points), red: wider, grey: not measurably different. Look for green "
        "bars, and read them with the test accuracy above: a gap narrowed by a lower training "
        "accuracy, not a higher test accuracy, is underfitting.",
        "Khoảng cách độ chính xác training-test của mỗi nhánh (trung bình trên các seed). Thanh "
        "sai số: khoảng ghép cặp 95% chưa hiệu chỉnh của khoảng cách của nhánh trừ của none "
        "(mức chắc chắn của hiệu, không phải độ phân tán giữa các seed); đường nét đứt: khoảng "
        "cách của none. Xanh lá: hẹp hơn none một cách đo được (hơn 0.5 điểm), đỏ: rộng hơn, "
        "xám: không khác biệt đo được. Hãy tìm các thanh xanh lá, và đọc chúng cùng độ chính "
        "xác trên tập test ở trên: khoảng cách hẹp lại vì độ chính xác training thấp hơn, chứ "
        "không phải vì độ chính xác test cao hơn, là underfitting."),
    "report.caption.weights.range": ("{layer}: {n} of {total} beyond ±{lim:.3g}",
                                     "{layer}: {n} trên {total} vượt ±{lim:.3g}"),
    "report.caption.weights": (
        "Weights per layer (rows) and arm (columns), all seeds, log-scale counts; grey "
        "outline: none. Each layer's range is the 99.5% quantile of |w| over all arms; values "
        "beyond it are not drawn (and not clipped): {outside}. Look for L1's spike at exactly "
        "0 and for L2's narrower distribution.",
        "Trọng số theo layer (hàng) và nhánh (cột), mọi seed, số đếm theo thang log; viền "
        "xám: none. Miền của mỗi layer là phân vị 99.5% của |w| trên mọi nhánh; giá trị vượt "
        "ra ngoài không được vẽ (và không bị cắt): {outside}. Hãy tìm đỉnh nhọn của L1 tại "
        "đúng 0 (sparse weights) và phân phối hẹp hơn của L2 (small weights)."),
    "report.no_regularization": ("no regularization", "không regularization"),
    "report.diverged": (" (+{n} diverged)", " (+{n} phân kỳ)"),
    "report.not_recorded": ("not recorded", "không được ghi lại"),
    "report.details_missing": (
        "not recorded in this store (kind, sizes and source are stored by newer reglab "
        "versions as meta['data'])",
        "không được ghi trong store này (loại, kích thước và nguồn được các phiên bản reglab "
        "mới hơn lưu trong meta['data'])"),
    "report.more_names": (" ... and {n} more", " ... và {n} tên khác"),
    # the data rows' labels (the keys of meta["data"] as a person reads them)
    "report.data.name": ("name", "tên"),
    "report.data.kind": ("kind", "loại"),
    "report.data.sizes": ("sizes", "kích thước"),
    "report.data.classes": ("classes", "số lớp"),
    "report.data.input shape": ("input shape", "kích thước input"),
    "report.data.class names": ("class names", "tên các lớp"),
    "report.data.columns": ("columns", "các cột"),
    "report.data.source": ("source", "nguồn"),
    "report.data.details": ("details", "chi tiết"),
}

# The report's figures (report.plots): titles, axes and legends.
PLOTS: dict[str, tuple[str, str]] = {
    "plot.forest.holm": ("Holm-adjusted interval", "khoảng hiệu chỉnh Holm"),
    "plot.forest.title": ("Each arm minus none on the same seeds: mean and {label}",
                          "Từng nhánh trừ none trên cùng các seed: trung bình và {label}"),
    "plot.forest.d_acc": ("Δ test accuracy (points)", "Δ độ chính xác test (điểm)"),
    "plot.forest.d_loss": ("Δ test loss", "Δ test loss"),
    "plot.forest.no_pairs": ("no pairs", "không có cặp"),
    "plot.forest.no_interval": ("n={n}: no interval", "n={n}: không có khoảng"),
    "plot.higher": (" (higher is better)", " (càng cao càng tốt)"),
    "plot.lower": (" (lower is better)", " (càng thấp càng tốt)"),
    "plot.forest.better": ("better than none", "tốt hơn none"),
    "plot.forest.worse": ("worse than none", "kém hơn none"),
    "plot.forest.no_difference": ("no measurable difference", "không khác biệt đo được"),
    "plot.forest.unadjusted": ("unadjusted 95% interval", "khoảng 95% chưa hiệu chỉnh"),
    "plot.forest.min_effect": ("minimum effect", "hiệu ứng tối thiểu"),
    "plot.curves.title": ("Learning curves: mean over seeds per arm, band = min-max",
                          "Đường học: trung bình trên các seed của mỗi nhánh, dải = min-max"),
    "plot.curves.train_loss": ("training loss", "training loss (tập training)"),
    "plot.curves.val_loss": ("validation loss", "validation loss (tập validation)"),
    "plot.curves.train_acc": ("training accuracy", "độ chính xác training"),
    "plot.curves.val_acc": ("validation accuracy", "độ chính xác validation"),
    "plot.curves.loss": ("loss", "loss (hàm mất mát)"),
    "plot.curves.accuracy": ("accuracy", "độ chính xác"),
    "plot.curves.epoch": ("epoch", "epoch (vòng huấn luyện)"),
    "plot.curves.best": ("best epoch (restored)", "epoch tốt nhất (được khôi phục)"),
    "plot.curves.stop": ("early stop", "early stopping dừng"),
    "plot.gap.ylabel": ("train acc - test acc (points)", "độ chính xác training - test (điểm)"),
    "plot.gap.title": ("Generalization gap per arm (error bars: 95% paired interval vs none)",
                       "Khoảng cách generalization của mỗi nhánh (thanh sai số: khoảng ghép "
                       "cặp 95% so với none)"),
    "plot.gap.narrower": ("narrower than none", "hẹp hơn none"),
    "plot.gap.wider": ("wider than none", "rộng hơn none"),
    "plot.gap.same": ("not measurably different", "không khác biệt đo được"),
    "plot.weights.none_stored": ("no weights stored", "không có trọng số nào được lưu"),
    "plot.weights.panel": ("{arm}, {layer}\n{zeros:.1f}% zeros, {outside} outside ±{lim:.2g}",
                           "{arm}, {layer}\n{zeros:.1f}% bằng 0, {outside} ngoài ±{lim:.2g}"),
    "plot.weights.value": ("weight value", "giá trị trọng số"),
    "plot.weights.count": ("count (log)", "số đếm (log)"),
    "plot.weights.title": ("Weight distributions per layer (all seeds; grey outline: none)",
                           "Phân phối trọng số theo layer (mọi seed; viền xám: none)"),
}

# The template's fixed labels: key -> (English, Vietnamese); ``labels(lang)`` gives them all.
TEMPLATE: dict[str, tuple[str, str]] = {
    "rebuilt": ("Rebuilt from the experiment's store ({name}/reglab.sqlite and models/) on "
                "{generated}.",
                "Dựng lại từ store của thí nghiệm ({name}/reglab.sqlite và models/) lúc "
                "{generated}."),
    "forest_alt": ("each arm minus none with its paired interval",
                   "từng nhánh trừ none với khoảng ghép cặp của nó"),
    "no_compare_html": ("No arm to compare with <code>none</code> (it needs finished runs of "
                        "<code>none</code> and of another arm on the same seeds).",
                        "Không có nhánh nào để so sánh với <code>none</code> (cần các lần chạy "
                        "đã xong của <code>none</code> và của một nhánh khác trên cùng seed)."),
    "no_compare_md": ("No arm to compare with `none` (it needs finished runs of `none` and of "
                      "another arm on the same seeds).",
                      "Không có nhánh nào để so sánh với `none` (cần các lần chạy đã xong của "
                      "`none` và của một nhánh khác trên cùng seed)."),
    "experiment": ("experiment", "thí nghiệm"),
    "created": ("{name} (created {created})", "{name} (tạo lúc {created})"),
    "command_line": ("command line", "dòng lệnh"),
    "earlier_command": ("earlier command on this experiment",
                        "lệnh trước đó trên thí nghiệm này"),
    "data": ("data: {key}", "dữ liệu: {key}"),
    "model_training": ("model and training", "mô hình và training"),
    "versions": ("versions", "phiên bản"),
    "arm": ("arm", "nhánh"),
    "hyperparameters": ("hyperparameters", "siêu tham số"),
    "seeds_status": ("seeds (status)", "seed (trạng thái)"),
    "why_stopped": ("why each run stopped", "vì sao mỗi lần chạy dừng"),
    "run": ("run", "lần chạy"),
    "status": ("status", "trạng thái"),
    "reason": ("reason", "lý do"),
    "table_intro": ("The note's comparison table (section 7) with measured numbers: mean ± std "
                    "over seeds; n = finished runs.",
                    "Bảng so sánh của ghi chú (mục 7) với các số đo được: trung bình ± độ lệch "
                    "chuẩn trên các seed; n = số lần chạy đã xong."),
    "settings": ("settings", "thiết lập"),
    "seed_output": ("seed: output", "ghi chú: output"),
    "seed_pro": ("seed: pro", "ghi chú: ưu điểm"),
    "seed_con": ("seed: con", "ghi chú: nhược điểm"),
    "test_acc": ("test acc %", "độ chính xác test %"),
    "test_loss": ("test loss", "test loss"),
    "gap_pct": ("train-test gap %", "khoảng cách training-test %"),
    "sparsity_pct": ("sparsity %", "độ sparse %"),
    "weight_norm": ("weight norm", "chuẩn trọng số"),
    "epochs": ("epochs", "epoch"),
    "s_run": ("s/run", "s/lần chạy"),
    "diffs_intro_html": ("Each arm minus <code>none</code> on the same seeds: mean [interval]. "
                         "Intervals: {note}. The unadjusted 95% intervals are shown next to "
                         "them.",
                         "Từng nhánh trừ <code>none</code> trên cùng các seed: trung bình "
                         "[khoảng]. Khoảng: {note}. Các khoảng 95% chưa hiệu chỉnh được ghi bên "
                         "cạnh."),
    "diffs_intro_md": ("Each arm minus `none` on the same seeds: mean [interval]. Intervals: "
                       "{note}. The unadjusted 95% intervals are shown next to them.",
                       "Từng nhánh trừ `none` trên cùng các seed: trung bình [khoảng]. Khoảng: "
                       "{note}. Các khoảng 95% chưa hiệu chỉnh được ghi bên cạnh."),
    "d_acc": ("Δ test acc (points)", "Δ độ chính xác test (điểm)"),
    "unadjusted": ("unadjusted", "chưa hiệu chỉnh"),
    "d_loss": ("Δ test loss", "Δ test loss"),
    "verdict": ("verdict", "kết luận"),
    "curves_alt": ("learning curves, every arm overlaid",
                   "đường học, mọi nhánh chồng lên nhau"),
    "interactive_hint": ("Hover a point for its values; click an arm's button to hide or show "
                         "its curves.",
                         "Rê chuột lên một điểm để xem giá trị của nó; bấm nút của một nhánh để "
                         "ẩn hoặc hiện các đường của nhánh đó."),
    "gap_alt": ("train-test accuracy gap per arm",
                "khoảng cách độ chính xác training-test của mỗi nhánh"),
    "weights_alt": ("weight histograms per layer and arm",
                    "histogram trọng số theo layer và nhánh"),
    "no_weights": ("No weights stored (no run finished).",
                   "Không có trọng số nào được lưu (chưa lần chạy nào xong)."),
    "sparsity_store_html": ("sparsity % (store, mean ± std)",
                            "độ sparse % (store, trung bình ± độ lệch chuẩn)"),
    "zeros_html": ("exact zeros % (all seeds' weights)",
                   "% trọng số đúng bằng 0 (trọng số của mọi seed)"),
    "sparsity_store_md": ("sparsity % (store)", "độ sparse % (store)"),
    "zeros_md": ("exact zeros % (all seeds)", "% trọng số đúng bằng 0 (mọi seed)"),
    "weight_std": ("weight std", "độ lệch chuẩn trọng số"),
    "weights": ("weights", "số trọng số"),
    "diagnosis_intro": ("The note's pitfalls (section 6), measured: each finding quotes the "
                        "numbers behind it.",
                        "Các lỗi thường gặp của ghi chú (mục 6), được đo: mỗi phát hiện trích "
                        "các số đứng sau nó."),
    "recommendation": ("Recommendation:", "Khuyến nghị:"),
    "rule.overfitting": ("overfitting", "overfitting"),
    "rule.underfitting": ("underfitting", "underfitting"),
    "rule.no-effect": ("no-effect", "không-tác-dụng"),
    "rule.cannot-fire": ("cannot-fire", "không-thể-kích-hoạt"),
    "rule.diverged": ("diverged", "phân-kỳ"),
    "rule.label-safety": ("label-safety", "an-toàn-nhãn"),
    "rule.ok": ("ok", "ổn"),
    "level.warning": ("warning", "cảnh báo"),
    "level.info": ("info", "thông tin"),
    "level.ok": ("ok", "ổn"),
}

# -- the diagnosis (report.diagnose): each finding's text and advice -------------------------
DIAGNOSE: dict[str, tuple[str, str]] = {
    "diag.diverged.text": ("run {id} (seed {seed}) diverged: {reason}.",
                           "lần chạy {id} (seed {seed}) bị phân kỳ: {reason}."),
    "diag.diverged.advice": (
        "Lower the learning rate (now {lr}) or the strengths of this arm; the other seeds' "
        "numbers stand without it.",
        "Giảm learning rate (hiện là {lr}) hoặc các hệ số điều chỉnh của nhánh này; số liệu "
        "của các seed khác vẫn đứng vững khi không có nó."),
    "diag.cannot_fire.text": (
        "Early stopping cannot fire: patience {p} >= epochs {e}, so no run can go {p} epochs "
        "without improvement before it ends. This arm trains every epoch and only restores "
        "the best epoch's weights (a checkpoint chosen on validation loss), which is not early "
        "stopping.",
        "Early stopping không thể kích hoạt: patience {p} >= số epoch {e}, nên không lần chạy "
        "nào có thể đi {p} epoch liền mà loss không giảm trước khi kết thúc. Nhánh này train "
        "hết mọi epoch và chỉ khôi phục trọng số của epoch tốt nhất (một checkpoint chọn theo "
        "validation loss), đó không phải là early stopping."),
    "diag.cannot_fire.advice": (
        "Use a patience below the epochs (e.g. --patience {suggest}) or train longer "
        "(--epochs above {p}).",
        "Dùng patience nhỏ hơn số epoch (ví dụ --patience {suggest}) hoặc train lâu hơn "
        "(--epochs lớn hơn {p})."),
    "diag.overfit.body": (
        "validation loss rose {rise:.0f}% above its minimum ({min_val:.3f} at epoch "
        "{best:.0f}, mean over {fired}/{seeds} seeds) to {end_val:.3f}, while training loss "
        "kept falling ({train_best:.3f} → {train_end:.3f}).",
        "validation loss tăng {rise:.0f}% so với cực tiểu ({min_val:.3f} tại epoch {best:.0f}, "
        "trung bình trên {fired}/{seeds} seed) lên {end_val:.3f}, trong khi training loss vẫn "
        "giảm ({train_best:.3f} → {train_end:.3f})."),
    "diag.overfit.caught": (
        "Overfitting caught: {body} Early stopping restored the best epoch's weights, so the "
        "test numbers come from before the rise.",
        "Đã bắt được overfitting: {body} Early stopping đã khôi phục trọng số của epoch tốt "
        "nhất, nên số liệu test lấy từ trước khi loss tăng."),
    "diag.overfit.caught_advice": (
        "Nothing to fix; a shorter patience would only save epochs.",
        "Không cần sửa gì; patience ngắn hơn chỉ tiết kiệm được vài epoch."),
    "diag.overfit.advice": (
        "Stop near epoch {best:.0f} (early stopping on validation loss, e.g. --patience 10) or "
        "regularize harder (L2, dropout, augmentation).",
        "Dừng training gần epoch {best:.0f} (early stopping trên validation loss, ví dụ "
        "--patience 10) hoặc regularization mạnh hơn (L2, dropout, augmentation)."),
    "diag.overfit.acc_rose": (
        " Validation accuracy still rose ({acc_best:.1f}% at that epoch, {acc_end:.1f}% at the "
        "end): the loss grew from overconfidence, not lost accuracy.",
        " Độ chính xác trên tập validation vẫn tăng ({acc_best:.1f}% tại epoch đó, "
        "{acc_end:.1f}% ở cuối): loss tăng vì mô hình quá tự tin, không phải vì mất độ chính "
        "xác."),
    "diag.overfit.acc_advice": (
        "Regularize harder (dropout, augmentation, L2) rather than stopping at the "
        "validation-loss minimum, which would cost accuracy here; or stop on validation "
        "accuracy (EarlyStopping(monitor='val_acc', mode='max')).",
        "Regularization mạnh hơn (dropout, augmentation, L2) thay vì dừng tại cực tiểu của "
        "validation loss, điều sẽ làm mất độ chính xác ở đây; hoặc dừng theo độ chính xác "
        "validation (EarlyStopping(monitor='val_acc', mode='max'))."),
    "diag.overfit.warning": ("Overfitting: {body}", "Overfitting: {body}"),
    "diag.underfit.text": (
        "Underfitting: training accuracy {train:.1f}% against {base:.1f}% without "
        "regularization ({d_train} points{interval}, n={n:.0f}) and test accuracy not better "
        "({d_test} points).",
        "Underfitting: độ chính xác training {train:.1f}% so với {base:.1f}% khi không có "
        "regularization ({d_train} điểm{interval}, n={n:.0f}) và độ chính xác test không tốt "
        "hơn ({d_test} điểm)."),
    "diag.underfit.advice": ("Weaken it: {parts}.", "Làm yếu nó đi: {parts}."),
    "diag.interval.ci": (", 95% CI", ", khoảng tin cậy 95%"),
    "diag.no_effect.loss": (" and test loss {d_loss}{interval}", " và test loss {d_loss}"
                            "{interval}"),
    "diag.no_effect.minimum": (
        "the minimum effect ({acc} points; 1% of none's test loss = {loss})",
        "hiệu ứng tối thiểu ({acc} điểm; 1% test loss của none = {loss})"),
    "diag.no_effect.norm": ("weight norm {norm} against {base} ({rel}%)",
                            "chuẩn trọng số {norm} so với {base} ({rel}%)"),
    "diag.no_effect.measured": (
        "test accuracy {d_acc} points{interval}{loss} against none ",
        "độ chính xác test {d_acc} điểm{interval}{loss} so với none "),
    "diag.no_effect.as_table": ("(mean [Holm-adjusted interval], as in the table)",
                                "(trung bình [khoảng hiệu chỉnh Holm], như trong bảng)"),
    "diag.no_effect.one_seed": ("(one seed: no interval)", "(một seed: không có khoảng)"),
    "diag.no_effect.stronger": ("Strengthen it: {parts}", "Làm mạnh nó lên: {parts}"),
    "diag.no_effect.one_seed_text": (
        "No measurable effect at {n}: {text}; the differences are below {minimum}; {norm}.",
        "Chưa đo được tác dụng tại {n}: {text}; các hiệu đều dưới {minimum}; {norm}."),
    "diag.no_effect.one_seed_advice": ("; and run more seeds (--seeds) to know.",
                                       "; và chạy thêm seed (--seeds) để biết chắc."),
    "diag.no_effect.negligible_text": (
        "No measurable effect: {text}, inside {minimum}; {norm}, {n}.",
        "Không có tác dụng đo được: {text}, nằm trong {minimum}; {norm}, {n}."),
    "diag.no_effect.negligible_advice": (".", "."),
    "diag.no_effect.wide_text": (
        "No measurable effect at {n}: {text}; the means are below {minimum} but the intervals "
        "cannot rule out a larger effect; {norm}.",
        "Chưa đo được tác dụng tại {n}: {text}; các trung bình dưới {minimum} nhưng các khoảng "
        "chưa loại trừ được một hiệu ứng lớn hơn; {norm}."),
    "diag.no_effect.wide_advice": (
        "; or run more seeds (--seeds) to measure an effect of this size.",
        "; hoặc chạy thêm seed (--seeds) để đo được một hiệu ứng cỡ này."),
    "diag.label.not_measured": (
        "Label safety not measured: this experiment's store holds no label-safety check of "
        "its augmentation.",
        "Chưa đo độ an toàn nhãn: store của thí nghiệm này không có lần kiểm tra an toàn nhãn "
        "nào cho augmentation của nó."),
    "diag.label.not_measured_advice": (
        "Run `reglab check-augment --data {data} --augment {names}` before trusting this arm.",
        "Chạy `reglab check-augment --data {data} --augment {names}` trước khi tin nhánh "
        "này."),
    "diag.label.drop": ("{name} (accuracy drop {drop:.1f} points > limit {limit:.1f})",
                        "{name} (độ chính xác giảm {drop:.1f} điểm > giới hạn {limit:.1f})"),
    "diag.label.flagged": (
        "Augmentation changes what samples are: {worst} on a quick model with clean accuracy "
        "{clean:.1f}%.",
        "Augmentation làm thay đổi bản chất của mẫu: {worst} trên một mô hình nhanh có độ "
        "chính xác trên dữ liệu sạch {clean:.1f}%."),
    "diag.label.flagged_advice": (
        "Drop the flagged transform(s) for this data: they teach wrong patterns.",
        "Bỏ (các) phép biến đổi bị gắn cờ cho dữ liệu này: data augmentation không hợp lý → "
        "mô hình học sai pattern."),
    "diag.label.safe": ("Label-safe: no transform flagged (accuracy drop in points: {drops}).",
                        "An toàn nhãn: không phép biến đổi nào bị gắn cờ (độ chính xác giảm, "
                        "tính bằng điểm: {drops})."),
    "diag.ok.gap": ("No pitfall detected; train-test gap {gap} points.",
                    "Không phát hiện lỗi thường gặp nào; khoảng cách training-test {gap} "
                    "điểm."),
    "diag.ok": ("No pitfall detected.", "Không phát hiện lỗi thường gặp nào."),
    "diag.weaker.dropout": ("lower the drop rate (now {now:g}, try {try_:g})",
                            "giảm tỉ lệ dropout (hiện là {now:g}, thử {try_:g})"),
    "diag.weaker.strength": ("lower {key} (now {now:g}, try {try_:g})",
                             "giảm {key} (hiện là {now:g}, thử {try_:g})"),
    "diag.weaker.patience": ("raise the patience (now {now}): early stopping can stop before "
                             "the model has learned",
                             "tăng patience (hiện là {now}): early stopping có thể dừng trước "
                             "khi mô hình học xong (underfitting)"),
    "diag.weaker.augment": ("lower --augment-strength or drop a transform",
                            "giảm --augment-strength hoặc bỏ một phép biến đổi"),
    "diag.weaker.default": ("train longer or use a larger model",
                            "train lâu hơn hoặc dùng mô hình lớn hơn"),
    "diag.stronger.strength": ("raise {key} (now {now:g}, try {try_:g})",
                               "tăng {key} (hiện là {now:g}, thử {try_:g})"),
    "diag.stronger.dropout": ("raise the drop rate (now {now:g})",
                              "tăng tỉ lệ dropout (hiện là {now:g})"),
    "diag.stronger.augment": ("raise --augment-strength", "tăng --augment-strength"),
    "diag.stronger.default": ("raise its strength", "tăng hệ số điều chỉnh của nó"),
}

# -- the verdicts (lab.stats.verdict's sentences) and the intervals' note --------------------
VERDICTS: dict[str, tuple[str, str]] = {
    "verdict.helps": ("helps", "giúp ích"),
    "verdict.hurts": ("hurts", "gây hại"),
    "verdict.too-few": ("not enough paired seeds (n={n})", "không đủ seed ghép cặp (n={n})"),
    "verdict.unclear": ("no measurable effect at n={n}", "chưa đo được tác dụng với n={n}"),
    "verdict.negligible": ("no measurable effect (below the minimum effect of {text})",
                           "không có tác dụng đo được (dưới hiệu ứng tối thiểu {text})"),
    "verdict.min_acc": ("0.5 points", "0.5 điểm"),
    "verdict.min_loss": ("{loss} = 1% of {baseline}'s test loss",
                         "{loss} = 1% test loss của {baseline}"),
    "verdict.both": ("accuracy: {acc}; loss: {loss}", "độ chính xác: {acc}; loss: {loss}"),
    "verdict.baseline": ("baseline", "mốc so sánh"),
    "verdict.no_baseline": ("no {baseline} runs to compare with",
                            "không có lần chạy {baseline} nào để so sánh"),
    "note.holm": ("95% t intervals, Holm-adjusted over {m} comparisons (each at the level of "
                  "its Holm step)",
                  "khoảng t 95%, hiệu chỉnh Holm trên {m} phép so sánh (mỗi phép ở mức của "
                  "bước Holm của nó)"),
    "note.single": ("95% t intervals (a single comparison: no adjustment)",
                    "khoảng t 95% (chỉ một phép so sánh: không hiệu chỉnh)"),
    "note.none": ("no intervals (fewer than 2 paired seeds per arm)",
                  "không có khoảng (ít hơn 2 seed ghép cặp mỗi nhánh)"),
    "note.rule": ("{adj}; a verdict needs the interval to exclude 0 and the mean to exceed "
                  "the minimum effect: 0.5 accuracy points, 1% of {baseline}'s test loss "
                  "({loss})",
                  "{adj}; một kết luận cần khoảng không chứa 0 và trung bình vượt hiệu ứng tối "
                  "thiểu: 0.5 điểm độ chính xác, 1% test loss của {baseline} ({loss})"),
    "console.measured": ("{title}: measured (mean ± std over seeds)",
                         "{title}: đo được (trung bình ± độ lệch chuẩn trên các seed)"),
    "console.weights": ("the weights and the cost (mean ± std over seeds)",
                        "trọng số và chi phí (trung bình ± độ lệch chuẩn trên các seed)"),
    "console.diffs": ("each arm minus none on the same seeds: mean [interval]; {note}",
                      "từng nhánh trừ none trên cùng các seed: trung bình [khoảng]; {note}"),
    "console.measure": ("measure", "đại lượng"),
    "console.d_mean": ("Δ mean [interval]", "Δ trung bình [khoảng]"),
    "console.test_acc": ("test acc (points)", "độ chính xác test (điểm)"),
    "console.test_loss": ("test loss", "test loss"),
}

# The note's own section 7 (Output, Ưu điểm, Nhược điểm), per arm: English is lab.arms.NOTE_SAYS.
NOTE_SAYS_VI = {
    "none": ("-", "-", "-"),
    "l1": ("Sparse weights", "Feature selection", "Gradient không mượt"),
    "l2": ("Small weights", "Gradient ổn định", "Không sparse"),
    "dropout": ("Random neuron mask", "Reduce co-adaptation", "Training lâu hơn"),
    "early_stopping": ("Stop training", "Đơn giản, hiệu quả", "Không tận dụng full data"),
    "augment": ("Augmented dataset", "Robust model", "Cần domain knowledge"),
    "all": ("Kết hợp nhiều phương pháp", "Hiệu quả cao hơn", "Nhiều tham số hơn"),
}

# -- the commands' own lines (run, path, tune, check-augment, compare): statuses, stored
# reasons (translated at display time: the store keeps English), progress and summaries ----
CLI: dict[str, tuple[str, str]] = {
    "status.done": ("done", "xong"),
    "status.diverged": ("diverged", "phân kỳ"),
    "status.failed": ("failed", "lỗi"),
    "status.interrupted": ("interrupted", "bị ngắt"),
    "status.running": ("running", "đang chạy"),
    "status.pending": ("pending", "đang chờ"),
    # the run contract's and EarlyStopping's sentences, as stored (reglab.train.contract);
    # reason(text, lang) matches the English template and fills the Vietnamese one
    "reason.max_epochs_restored": (
        "reached the maximum of {n} epochs; restored the best weights of epoch {best}",
        "đã chạy hết tối đa {n} epoch; đã khôi phục trọng số tốt nhất, của epoch {best}"),
    "reason.max_epochs": ("reached the maximum of {n} epochs", "đã chạy hết tối đa {n} epoch"),
    "reason.diverged": ("diverged: the {which} loss became non-finite ({value}) at epoch {epoch}",
                        "phân kỳ: {which} loss không còn hữu hạn ({value}) tại epoch {epoch}"),
    "reason.early_stopping": ("early stopping: Stopped at epoch {epoch}: {clause}; {best}.",
                              "early stopping: dừng tại epoch {epoch}: {clause}; {best}."),
    "reason.clause.patience": (
        "{monitor} did not improve by more than {delta} for {span}",
        "{monitor} không cải thiện quá {delta} trong {span}"),
    "reason.clause.baseline": (
        "{monitor} did not beat the baseline {baseline} by more than {delta} in {span}",
        "{monitor} không vượt baseline {baseline} quá {delta} trong {span}"),
    "reason.clause.non_finite": ("{monitor} is {value} (not finite)",
                                 "{monitor} là {value} (không hữu hạn)"),
    "reason.clause.threshold": ("{monitor} {score} reached the stopping threshold {threshold}",
                                "{monitor} {score} đã chạm ngưỡng dừng {threshold}"),
    "reason.clause.divergence": (
        "{monitor} {score} is worse than the divergence threshold {threshold}",
        "{monitor} {score} tệ hơn ngưỡng phân kỳ {threshold}"),
    "reason.best.score": ("best {score} at epoch {epoch}", "tốt nhất {score} tại epoch {epoch}"),
    "reason.best.none": ("no best score yet", "chưa có điểm tốt nhất"),
    "reason.span.many": ("{k} epochs", "{k} epoch"),
    "reason.span.one": ("{k} epoch", "{k} epoch"),  # Vietnamese has no plural
    # reglab run
    "cli.run.start": ("training up to {epochs} epochs", "training tối đa {epochs} epoch"),
    "cli.run.epoch": ("  epoch {epoch:>4}/{epochs}  val loss {val_loss:.4f}  val acc "
                      "{val_acc:6.2f}%",
                      "  epoch {epoch:>4}/{epochs}  validation loss {val_loss:.4f}  độ chính xác "
                      "validation {val_acc:6.2f}%"),
    "cli.run.scores": ("  test acc {test_acc:.2f}%  test loss {test_loss:.4f}  train acc "
                       "{train_acc:.2f}%  gap {gap} points",
                       "  độ chính xác test {test_acc:.2f}%  test loss {test_loss:.4f}  độ "
                       "chính xác training {train_acc:.2f}%  khoảng cách {gap} điểm"),
    "cli.run.weights": ("  sparsity {sparsity:.1f}%  weight norm {norm:.2f}  epochs {epochs} "
                        "(best: epoch {best})  {seconds:.1f} s",
                        "  độ sparse {sparsity:.1f}%  chuẩn trọng số {norm:.2f}  {epochs} epoch "
                        "(tốt nhất: epoch {best})  {seconds:.1f} s"),
    "cli.stored": ("stored in {root}/", "đã lưu trong {root}/"),
    "cli.resuming": ("resuming {root}: {kept} finished run(s) kept, {todo} to run",
                     "tiếp tục {root}: giữ {kept} lần chạy đã xong, còn {todo} lần chạy"),
    "cli.results_at": ("runs, per-epoch metrics and weights: {root}/ (results.csv, "
                       "reglab.sqlite, models/)",
                       "các lần chạy, số đo theo từng epoch và trọng số: {root}/ (results.csv, "
                       "reglab.sqlite, models/)"),
    "cli.report_at": ("report: {path}", "báo cáo: {path}"),
    "cli.lost_weights": (
        "training {n} finished run(s) again: their weight file in {root}/models/ was missing "
        "or unreadable: {ids}",
        "train lại {n} lần chạy đã xong: file trọng số của chúng trong {root}/models/ bị mất "
        "hoặc không đọc được: {ids}"),
    # reglab path
    "cli.path.bar": ("{penalty} path on {data}", "đường điều chỉnh {penalty} trên {data}"),
    # reglab tune
    "cli.tune.bar": ("tuning on {data}: trials", "tinh chỉnh trên {data}: trial"),
    "cli.tune.study": ("study {study}: {counts} (this worker ran {ran})",
                       "study {study}: {counts} (worker này đã chạy {ran})"),
    "cli.tune.none": ("no completed trial yet", "chưa có trial nào hoàn tất"),
    "cli.tune.best": ("best {metric} {value:.4f}: {params}",
                      "{metric} tốt nhất {value:.4f}: {params}"),
    "cli.tune.title": ("tuned vs none on {data}", "đã tinh chỉnh so với none trên {data}"),
    "trial.complete": ("complete", "hoàn tất"),
    "trial.pruned": ("pruned", "bị cắt sớm (pruned)"),
    "trial.fail": ("fail", "lỗi"),
    "trial.running": ("running", "đang chạy"),
    "trial.waiting": ("waiting", "đang chờ"),
    # the label check (compare's one line; check-augment's report: lab.label_check.TEXTS)
    "cli.label.changes": ("label check: changes labels: {names}; ",
                          "kiểm tra nhãn: làm đổi nhãn: {names}; "),
    "cli.label.keeps": ("label check: keeps labels; ", "kiểm tra nhãn: giữ nguyên nhãn; "),
    "cli.label.part": ("{name} {flag} (drop {drop:+.3f}, limit {limit:.3f})",
                       "{name} {flag} (giảm {drop:+.3f}, giới hạn {limit:.3f})"),
    "cli.label.ok": ("ok", "ổn"),
    # the HTML report's interactive learning curves (report.interactive): hover texts
    "plot.curves.point": ("{arm}, epoch {epoch}: {what} {value}",
                          "nhánh {arm}, epoch {epoch}: {what} {value}"),
    "plot.curves.point_range": (" (min {lo}, max {hi} over {n} seeds)",
                                " (min {lo}, max {hi} trên {n} seed)"),
    "plot.curves.best_point": ("{arm}: best epoch {epoch} (its weights restored), {what} {value}",
                               "nhánh {arm}: epoch tốt nhất {epoch} (trọng số của nó được khôi "
                               "phục), {what} {value}"),
    "plot.curves.stop_point": ("{arm}: early stopping ended the run at epoch {epoch}",
                               "nhánh {arm}: early stopping dừng lần chạy tại epoch {epoch}"),
}

# lab modules that write prose keep their English templates (one copy); the Vietnamese here
LABEL_CHECK_VI = {
    "head": ("Kiểm tra an toàn nhãn{of}: mô hình nhanh, độ chính xác validation trên dữ liệu "
             "gốc {clean:.3f}, {draws} lần augment ngẫu nhiên cho mỗi phép biến đổi"),
    "of": " của {name!r}",
    "rule": ("quy tắc: bị đánh dấu khi drop > limit = min(max({threshold:g}, {k:g} x trung vị "
             "drop của các phép khác), {ceiling:g} x (độ chính xác gốc - mức ngẫu nhiên))"),
    "per_class": "độ chính xác giảm theo từng lớp:",
}
PATH_VI = {
    "best": "tốt nhất trên validation",
    "one_se": "một sai số chuẩn (1-SE)",
    "row": ("{label}: {name} = {strength:.4g}, độ chính xác validation {val_acc:.4f}, "
            "validation loss {val_loss:.4f}, độ chính xác test {test_acc:.4f}, số feature được "
            "dùng {features}"),
    "se": ("(quy tắc 1-SE: SE = {se:.4g} của {loss} trung bình trên tập validation, theo "
           "từng mẫu)"),
    "log_loss": "log loss",
    "zero_one_loss": "loss 0/1",
    "relaxed": ("(điểm của relaxed lasso: mỗi support được fit lại với một ridge rất nhỏ; "
                "support, độ sparse và chuẩn là của bản fit có phạt)"),
}
CLI.update({f"label_check.{k}": (v, LABEL_CHECK_VI[k]) for k, v in LABEL_CHECK_TEXTS.items()})
CLI.update({f"path.{k}": (v, PATH_VI[k]) for k, v in PATH_TEXTS.items()})

# Keys whose Vietnamese is the English on purpose: technical words the note itself keeps in
# English (overfitting, validation loss, test loss), formula labels, "Overfitting: {body}" and
# a sentence's closing ".".
SAME_IN_BOTH = frozenset({
    "explain.l1-vs-l2.fig.l1", "explain.dropout.fig.input", "explain.dropout.fig.grad",
    "explain.early-stopping.fig.val", "diag.overfit.warning", "diag.no_effect.negligible_advice",
    "console.test_loss", "plot.forest.d_loss",
    "template.test_loss", "template.d_loss", "template.rule.overfitting",
    "template.rule.underfitting", "reason.span.one", "path.log_loss"})

CATALOGUE: dict[str, tuple[str, str]] = {**EXPLAIN, **REPORT, **PLOTS, **DIAGNOSE, **VERDICTS,
                                         **{f"template.{k}": v for k, v in TEMPLATE.items()},
                                         **CLI}


def check_lang(lang: str, owner: str = "reglab") -> str:
    """``lang`` if it is one of :data:`LANGS`, else InvalidParameterError (one line)."""
    return check_choice(owner, "lang", lang, LANGS)


def t(key: str, lang: str = "en", /, **fields: Any) -> str:
    """The template of ``key`` in ``lang``, filled with ``fields`` (``str.format``).

    Example::

        t("verdict.too-few", "en", n=1) == "not enough paired seeds (n=1)"
    """
    return CATALOGUE[key][LANGS.index(check_lang(lang))].format(**fields)


def labels(lang: str = "en") -> dict[str, str]:
    """Every fixed label of the report templates in ``lang`` (those with no fields)."""
    return {k: v[LANGS.index(check_lang(lang))] for k, v in TEMPLATE.items()}


def note_says(row: Any, lang: str = "en") -> tuple[str, str, str]:
    """The note's section-7 row for ``row`` (a ``compare.ArmRow``) in ``lang``."""
    if lang == "en":
        return row.note_says
    # the row's English triple names its technique (a grid arm's is its owner's)
    owner = next((a for a, says in NOTE_SAYS.items() if says == row.note_says), None)
    return NOTE_SAYS_VI.get(owner, row.note_says)


def _verdict(kind: str | None, n: int, min_text: str, lang: str) -> str:
    if kind in ("helps", "hurts", "too-few", "unclear"):
        return t(f"verdict.{kind}", lang, n=n)
    return t("verdict.negligible", lang, text=min_text)


def verdicts(row: Any, baseline: str = "none", lang: str = "en") -> tuple[str, str, str]:
    """(accuracy verdict, loss verdict, the combined cell) of a ``compare.ArmRow`` in ``lang``.

    Rendered from the row's ``effects`` (``stats.effect``), so both languages say the same
    thing; in English they equal the row's own ``verdicts`` and ``verdict``.
    """
    if row.effects is None:
        key = "verdict.baseline" if row.arm == baseline else "verdict.no_baseline"
        return "", "", t(key, lang, baseline=baseline)
    loss_text = t("verdict.min_loss", lang, loss=format_num(row.min_effect_loss, 4),
                  baseline=baseline)
    acc = _verdict(row.effects[0], row.d_acc.n, t("verdict.min_acc", lang), lang)
    loss = _verdict(row.effects[1], row.d_loss.n, loss_text, lang)
    return acc, loss, t("verdict.both", lang, acc=acc, loss=loss)


def intervals_note(rows: Sequence[Any], baseline: str = "none", lang: str = "en") -> str:
    """``compare.intervals_note`` in ``lang``: what the difference tables' intervals are."""
    m = max((r.comparisons for r in rows), default=0)
    loss = next((r.min_effect_loss for r in rows if math.isfinite(r.min_effect_loss)), math.nan)
    adj = (t("note.holm", lang, m=m) if m > 1 else
           t("note.single", lang) if m == 1 else t("note.none", lang))
    return t("note.rule", lang, adj=adj, baseline=baseline, loss=format_num(loss, 4))


def status(value: str, lang: str = "en") -> str:
    """A run's stored status (done, diverged, ...) in ``lang``; an unknown one as stored."""
    key = f"status.{value}"
    return t(key, lang) if key in CATALOGUE else value


def texts(prefix: str, lang: str = "en") -> dict[str, str]:
    """Every template under ``prefix.`` in ``lang``, keyed by the rest of its key: the
    templates a lab module renders with (``LabelCheckReport.render``, ``path``'s summary)."""
    i = LANGS.index(check_lang(lang))
    return {k[len(prefix) + 1:]: v[i] for k, v in CATALOGUE.items() if k.startswith(prefix + ".")}


# stored sentence -> template keys tried in order; a field listed under a key is itself one
# of the sentences of that group (an early stop's clause and best score)
_REASONS = ("reason.max_epochs_restored", "reason.max_epochs", "reason.diverged",
            "reason.early_stopping")
_PARTS = {"clause": ("reason.clause.patience", "reason.clause.baseline",
                     "reason.clause.non_finite", "reason.clause.threshold",
                     "reason.clause.divergence"),
          "best": ("reason.best.score", "reason.best.none"),
          "span": ("reason.span.many", "reason.span.one")}


@functools.lru_cache(maxsize=None)
def _pattern(key: str) -> re.Pattern[str]:
    """The English template of ``key`` as a regex: its fields become named groups."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(CATALOGUE[key][0]):
        out.append(re.escape(literal))
        if field is not None:
            out.append(f"(?P<{field}>.+?)")
    return re.compile("".join(out), re.DOTALL)


def _translate(text: str, keys: Sequence[str], lang: str) -> str | None:
    for key in keys:
        m = _pattern(key).fullmatch(text)
        if m is None:
            continue
        fields = {}
        for name, value in m.groupdict().items():
            part = _translate(value, _PARTS[name], lang) if name in _PARTS else None
            fields[name] = value if part is None else part
        return t(key, lang, **fields)
    return None


def reason(text: str, lang: str = "en") -> str:
    """A stored reason sentence (English, as the run contract wrote it) shown in ``lang``.

    The store keeps English; this translates at display time by matching the sentence
    against the English templates of the ``reason.*`` keys. A sentence no template matches
    (an exception's text, a Prechelt criterion's clause) is shown as stored.

    Example::

        >>> reason("reached the maximum of 3 epochs", "vi")
        'đã chạy hết tối đa 3 epoch'
    """
    if check_lang(lang) == "en" or not text:
        return text
    translated = _translate(text, _REASONS, lang)
    return text if translated is None else translated
