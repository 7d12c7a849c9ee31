"""The claims of the five source documents that the book tests: one row each, as data.

A row says *what* the paper claims and *where*, what the book does to test it, and points at the
evidence. It never says what the verdict is: :mod:`stconv_lite.ledger.evidence` computes that from
the evidence, so a new stored run or a changed model changes the ledger by itself.

Three kinds of evidence:

- :class:`Check`: a function of :mod:`stconv_lite.ledger.checks`, run at page build (counts,
  FLOP ratios, formulas, structural facts);
- :class:`Run`: a paired comparison (or a bound) of a registered experiment, read from its stored
  run in ``book/results/`` (the largest scale stored), with the stats verdict that would reproduce
  the claim;
- :class:`Untestable`: what the book cannot test, and why (data, weights or compute it does not
  have). Only the reason is typed; the verdict word still comes from the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from stconv_lite.experiments.stats import BETTER, WORSE
from stconv_lite.ledger.verdicts import NOT_BETTER, NOT_WORSE

__all__ = ["PAPERS", "CHAPTERS", "Check", "Run", "Untestable", "Claim", "CLAIMS"]

PAPERS = {
    "r21d": "Tran et al. 2018, A Closer Look at Spatiotemporal Convolutions (CVPR; study slides)",
    "3tconv": "Ras et al. 2021, The 3TConv (ICLR submission)",
    "ctnet": "Li et al. 2021, CT-Net (ICLR)",
    "tadaconv": "Huang et al. 2022, TAdaConv (ICLR)",
    "fusion": "Zhou et al. 2020, Spatiotemporal Fusion in 3D CNNs: A Probabilistic View (CVPR, supplement)",
}

# Where the book discusses each paper: the page (path from the repository root, no suffix).
CHAPTERS = {
    1: "notebooks/01_videos_as_tensors", 2: "notebooks/02_conv3d_r2plus1d", 3: "notebooks/03_3tconv",
    4: "notebooks/04_ctnet", 5: "notebooks/05_tadaconv", 6: "notebooks/06_fusion", 8: "book/comparison",
}


@dataclass(frozen=True)
class Check:
    """Evidence computed at page build: ``stconv_lite.ledger.checks.CHECKS[function]``."""

    function: str


@dataclass(frozen=True)
class Run:
    """Evidence from a stored run: comparison ``a`` vs ``b`` on ``metric`` of ``experiment``.

    ``b`` is the other arm, or a bound's label (e.g. ``"the 50 % bound"``). ``expect`` is the stats
    verdict (in terms of A and B) that reproduces the claim, or ``NOT_WORSE`` / ``NOT_BETTER``.
    """

    experiment: str
    a: str
    b: str
    metric: str = "test_accuracy"
    expect: str = BETTER


@dataclass(frozen=True)
class Untestable:
    """Evidence the book does not have; ``reason`` says what is missing."""

    reason: str


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str  # a key of PAPERS
    source: str  # table, figure or section
    claim: str  # the claim in a few words
    test: str  # what the book does to test it
    evidence: Check | Run | Untestable
    chapter: int  # a key of CHAPTERS
    section: str = ""  # the part of the chapter where it is discussed


_OPS = "book.operator_comparison"
_KINETICS = "needs Kinetics-400 / Something-Something training (GPU-months) and the datasets, which the book does not have"

CLAIMS: tuple[Claim, ...] = (
    # ------------------------------------------------------------ R(2+1)D study
    Claim("r21d.3d_vs_frames", "r21d", "sec. 3 (f-R2D vs R3D); 3TConv sec. 1", "3D convs model time; 2D convs on frames cannot",
          "tiny 3D CNN vs a bag of per-frame 2D features, label='reversal' (order-blind: <= 50 %)",
          Run("ch01.frame_order", "tiny_c3d", "frame_bag_2d"), 1, "the frame-order experiment"),
    Claim("r21d.params.r2d", "r21d", "table 'Comparison of architectures'", "R2D-18 has 11.4M parameters",
          "count our R2D-18 (400 classes, 8 frames stacked)", Check("r2d_params"), 2, "the family of video ResNets"),
    Claim("r21d.params.fr2d", "r21d", "table 'Comparison of architectures'", "f-R2D-18 has 11.4M parameters",
          "count our f-R2D-18", Check("fr2d_params"), 2, "the family of video ResNets"),
    Claim("r21d.params.r3d", "r21d", "table 'Comparison of architectures'", "R3D-18 has 33.4M parameters",
          "count our R3D-18", Check("r3d_params"), 2, "the family of video ResNets"),
    Claim("r21d.params.mc", "r21d", "table 'Comparison of architectures'", "MC2-MC5 have 11.4, 11.7, 12.7, 16.9M",
          "count our MCx-18", Check("mc_params"), 2, "mixed convolutions"),
    Claim("r21d.params.rmc", "r21d", "table 'Comparison of architectures'", "rMC2-rMC5 have 33.3, 33.0, 32.0, 27.9M",
          "count our rMCx-18", Check("rmc_params"), 2, "mixed convolutions"),
    Claim("r21d.params.r2plus1d", "r21d", "table 'Comparison of architectures'", "R(2+1)D-18 has 33.3M parameters",
          "count our R(2+1)D-18 with the paper's M_i", Check("r2plus1d_params"), 2, "(2+1)D convolution"),
    Claim("r21d.midplanes", "r21d", "'3D vs (2+1)D'; paper sec. 3.5", "M_i makes (2+1)D as large as the 3D conv",
          "compare conv weights of Conv2Plus1d and a 3x3x3 conv at six widths", Check("midplanes_match_3d"), 2,
          "(2+1)D convolution"),
    Claim("r21d.nonlinearities", "r21d", "'Advantages of (2+1)D'", "(2+1)D doubles the number of non-linearities",
          "count ReLU calls in one forward of R(2+1)D-18 and R3D-18", Check("nonlinearities_double"), 2,
          "(2+1)D convolution"),
    Claim("r21d.optimisation", "r21d", "'Easier optimization' (training-error figure)",
          "(2+1)D is easier to optimise than 3D: lower training loss",
          "final training loss of R(2+1)D vs R3D, same clips and budget, paired seeds",
          Run("ch02.optimisation", "r2plus1d", "r3d", "final_train_loss"), 2, "easier optimisation"),
    Claim("r21d.extra_relu", "r21d", "'Advantages of (2+1)D'", "the extra non-linearity is part of the gain",
          "final training loss of R(2+1)D vs R(2+1)D without its middle ReLU",
          Run("ch02.optimisation", "r2plus1d", "r2plus1d_norelu", "final_train_loss"), 2, "easier optimisation"),
    Claim("r21d.accuracy_vs_r3d", "r21d", "table 'Comparison of architectures' (64.8 vs 61.8)",
          "R(2+1)D is more accurate than R3D", "test accuracy, label='reversal', paired seeds",
          Run("ch02.time_order", "r2plus1d", "r3d"), 2, "which networks read the order of frames"),
    Claim("r21d.r3d_vs_r2d", "r21d", "table 'Comparison of architectures' (61.8 vs 59.5)",
          "R3D beats R2D: keeping time in every layer helps", "test accuracy, label='reversal'",
          Run("ch02.time_order", "r3d", "r2d"), 2, "which networks read the order of frames"),
    Claim("r21d.mc3_vs_rmc3", "r21d", "table 'Comparison of architectures' (62.9 vs 62.3)",
          "MC3 (3D early) beats rMC3 (3D late)", "test accuracy, label='reversal'",
          Run("ch02.time_order", "mc3", "rmc3"), 2, "mixed convolutions"),
    Claim("r21d.efficiency", "r21d", "'Advantages of (2+1)D'", "(2+1)D convs are more efficient than 3D convs",
          "training-step time of the operator alone, (2+1)D vs 3x3x3, same probe size",
          Run(_OPS, "r2plus1d@reversal", "conv3d@reversal", "module_seconds"), 8, "why fewer FLOPs is not faster"),
    Claim("r21d.same_backbone", "r21d", "table 'Comparison of architectures'", "(2+1)D is more accurate than 3D",
          "the two operators in the same small backbone, label='reversal'",
          Run(_OPS, "r2plus1d@reversal", "conv3d@reversal"), 8, "the comparison table"),
    Claim("r21d.kinetics", "r21d", "'Results on Kinetics'", "R(2+1)D reaches state-of-the-art Kinetics accuracy",
          "—", Untestable(_KINETICS), 2, "the family of video ResNets"),
    # ------------------------------------------------------------ 3TConv
    Claim("3t.kernel_formula", "3tconv", "appendix A", "a 3T kernel has nm + 4(l-1) parameters (3D: nml)",
          "count Conv3T parameters for four kernel sizes", Check("conv3t_kernel_formula"), 3, "the 3T kernel"),
    Claim("3t.resnet18_params", "3tconv", "table 1", "3T-/3D-ResNet18 have 11.2/33.2M parameters (exact counts)",
          "count our converted ResNet-18s at 27 and 101 classes", Check("resnet18_3t_params"), 3,
          "3TConv in big networks"),
    Claim("3t.googlenet_params", "3tconv", "table 1", "3T-/3D-GoogLeNet have 7.4/14.1M parameters (exact counts)",
          "count our converted GoogLeNets (with auxiliary heads)", Check("googlenet_3t_params"), 3,
          "3TConv in big networks"),
    Claim("3t.r2plus1d_params", "3tconv", "table 1", "the R(2+1)D baseline has 31.3M parameters",
          "count torchvision's R(2+1)D-18 layout at 27 and 101 classes", Check("r2plus1d_baseline_params"), 3,
          "3TConv in big networks"),
    Claim("3t.77_percent", "3tconv", "abstract, sec. 1", "3TConv nets have up to 77 % fewer parameters",
          "largest saving among table 1's pairs, from our counts", Check("up_to_77_percent_fewer"), 3,
          "3TConv in big networks"),
    Claim("3t.low_data", "3tconv", "appendix B, fig. 5", "3TConv beats 3DConv in the low-data regime",
          "LeNet-5-3T vs LeNet-5-3D, 10 clips per class, label='digit'",
          Run("ch03.low_data_digit", "lenet5_3t", "lenet5_3d"), 3, "the low-data experiment"),
    Claim("3t.transforms_learn_time", "3tconv", "sec. 4.2-4.3", "the learned transforms carry the temporal dynamics",
          "3T LeNet with learned vs frozen (identity) transforms, label='reversal'",
          Run("ch03.transforms_time", "3t_pool", "3t_frozen_pool"), 3, "what the transforms learn"),
    Claim("3t.frozen_order_blind", "3tconv", "eq. 3-5 (identity transforms stack one slice)",
          "with identity transforms a 3T kernel cannot read the direction of time",
          "3T LeNet with frozen identity transforms and temporal pooling vs the 50 % bound",
          Run("ch03.transforms_time", "3t_frozen_pool", "the 50 % bound", expect=NOT_BETTER), 3,
          "what the transforms learn"),
    Claim("3t.beats_3d_same_backbone", "3tconv", "table 1 (UCF101, 61.1 vs 56.1)", "3TConv beats the 3D conv",
          "the two operators in the same small backbone, label='digit'",
          Run(_OPS, "conv3t@digit", "conv3d@digit"), 8, "the comparison table"),
    Claim("3t.beats_r2plus1d", "3tconv", "table 1 (UCF101 from scratch, 31.0 vs 31.4; sec. 4.4)",
          "3TConv beats R(2+1)D trained from scratch on small data", "the two operators in the same backbone, label='digit'",
          Run(_OPS, "conv3t@digit", "r2plus1d@digit"), 8, "the comparison table"),
    Claim("3t.jester", "3tconv", "sec. 4.3-4.4", "with much data (Jester) 3DConv beats 3TConv", "—",
          Untestable("needs a large-data arm (Jester: 118k clips); no experiment here trains with thousands of "
                     "clips per class"), 3, "the low-data experiment"),
    Claim("3t.pretraining", "3tconv", "sec. 4.5", "ImageNet pretraining massively helps 3TConv", "—",
          Untestable("needs ImageNet weights and UCF101/Jester training; the book runs offline without weights"), 3,
          "3TConv in big networks"),
    # ------------------------------------------------------------ CT-Net
    Claim("ct.flops.c3d", "ctnet", "table 2a", "the C3D module costs 59.9 vs CT's 36.3 GFLOPs",
          "MACs of our ResNet-50s (8x256x256, meta device), as a ratio to CT", Check("c3d_vs_ct_flops"), 4,
          "table 2a in numbers"),
    Claim("ct.flops.r2plus1d", "ctnet", "table 2a", "the R(2+1)D module costs 45.8 vs CT's 36.3 GFLOPs",
          "the same ratio for R(2+1)D", Check("r2plus1d_vs_ct_flops"), 4, "table 2a in numbers"),
    Claim("ct.flops.csn", "ctnet", "table 2a", "CSN and CT cost about the same (35.6 vs 36.3)",
          "the same ratio for CSN", Check("csn_vs_ct_flops"), 4, "table 2a in numbers"),
    Claim("ct.flops.subdims", "ctnet", "table 2b", "more sub-dimensions K, fewer FLOPs",
          "MACs of CT ResNet-50 at K = 1..4", Check("more_subdimensions_fewer_flops"), 4, "the number of sub-dimensions"),
    Claim("ct.params", "ctnet", "tables 6, 8", "CT-Net R50 has 21.0M parameters (TSN 23.9M)",
          "count our CT-Net R50 and TSN R50", Check("ctnet_params"), 4, "the CT-Net"),
    Claim("ct.field", "ctnet", "sec. 1, fig. 1", "with K=2 all channels interact over a 5x5x5 field",
          "gradient interaction field of our CT-Module", Check("ct_interaction_field"), 4, "feature-interaction sufficiency"),
    Claim("ct.field_fewer_flops", "ctnet", "table 1, sec. 3", "CT reaches C3D's interaction field with fewer FLOPs",
          "interaction fields and MACs of CT and C3D modules", Check("ct_field_with_fewer_flops"), 4,
          "feature-interaction sufficiency"),
    Claim("ct.beats_c3d", "ctnet", "table 2a (47.3 vs 46.1)", "the CT-Module is more accurate than the C3D module",
          "the two operators in the same small backbone, label='reversal'",
          Run(_OPS, "ct@reversal", "conv3d@reversal"), 8, "the comparison table"),
    Claim("ct.beats_csn", "ctnet", "table 2a (47.3 vs 46.8)", "CT beats CSN at similar computation",
          "the two operators in the same backbone, label='reversal'", Run(_OPS, "ct@reversal", "csn@reversal"), 8,
          "the comparison table"),
    Claim("ct.vs_r2plus1d", "ctnet", "table 2a (47.3 vs 47.0)", "CT is slightly better than R(2+1)D, with fewer FLOPs",
          "the two operators in the same backbone, label='reversal' (parity or better reproduces it)",
          Run(_OPS, "ct@reversal", "r2plus1d@reversal", expect=NOT_WORSE), 8, "the comparison table"),
    Claim("ct.efficiency", "ctnet", "table 1 ('convolutional efficiency')", "fewer FLOPs make the CT-Module efficient",
          "training-step time of the operator alone, CT vs 3x3x3 conv",
          Run(_OPS, "ct@reversal", "conv3d@reversal", "module_seconds"), 8, "why fewer FLOPs is not faster"),
    Claim("ct.csn_efficiency", "ctnet", "table 1 (CSN: 'efficient', DW 3x3x3)", "CSN's depthwise conv is efficient",
          "training-step time of the operator alone, CSN vs 3x3x3 conv",
          Run(_OPS, "csn@reversal", "conv3d@reversal", "module_seconds"), 8, "why fewer FLOPs is not faster"),
    Claim("ct.te", "ctnet", "table 2g (48.0 -> 50.1)", "tensor excitation adds accuracy",
          "CT + point-wise network with vs without tensor excitation, label='reversal'",
          Run("ch04.excitation", "ct_pw_te", "ct_pw"), 4, "tensor excitation"),
    Claim("ct.parallel", "ctnet", "table 2c", "parallel spatial || temporal beats serial",
          "serial vs parallel CT module on the moving-dot-pair task",
          Run("ch04.interaction", "ct_serial", "ct_parallel", expect=WORSE), 4, "feature-interaction sufficiency"),
    Claim("ct.modules.c3d", "ctnet", "table 2a (47.3 vs 46.1)", "the CT module beats the C3D module in one network",
          "CT vs C3D modules in chapter 4's network, label='reversal'", Run("ch04.modules", "ct", "c3d"), 4,
          "table 2a on Video-MNIST"),
    Claim("ct.modules.r2plus1d", "ctnet", "table 2a (47.3 vs 47.0)", "the CT module is at least as good as R(2+1)D",
          "CT vs R(2+1)D modules in chapter 4's network (parity or better reproduces it)",
          Run("ch04.modules", "ct", "r2plus1d", expect=NOT_WORSE), 4, "table 2a on Video-MNIST"),
    Claim("ct.modules.csn", "ctnet", "table 2a (47.3 vs 46.8)", "the CT module beats the CSN module",
          "CT vs CSN modules in chapter 4's network", Run("ch04.modules", "ct", "csn"), 4, "table 2a on Video-MNIST"),
    Claim("ct.sota", "ctnet", "tables 3-4", "CT-Net beats the state of the art on Something-Something", "—",
          Untestable(_KINETICS), 4, "the CT-Net"),
    # ------------------------------------------------------------ TAdaConv
    Claim("tada.table1_flops", "tadaconv", "table 1, sec. 3", "TAdaConv's overhead over the spatial conv is "
          "an order of magnitude below the temporal conv's", "counted MACs at C=64, 8x56x56 vs table 1's formulas",
          Check("tadaconv_table1_flops"), 5, "the cost of calibration"),
    Claim("tada.param_formula", "tadaconv", "table 1", "TAdaConv has C_o C_i k^2 + 2 C_i C_i/r k parameters",
          "count our TAdaConv with the eq. (4) generator", Check("tadaconv_param_formula"), 5, "the cost of calibration"),
    Claim("tada.params", "tadaconv", "table 5", "TAda2D-R50 has 27.5M parameters", "count our TAda2D-R50",
          Check("tada2d_params"), 5, "TAda2D"),
    Claim("tada.generator_params", "tadaconv", "table 4", "C_in calibration adds 3.16M parameters",
          "count the calibration generators of our TAda2D-R50", Check("tada2d_generator_params"), 5, "TAda2D"),
    Claim("tada.extra_gflops", "tadaconv", "table 4", "C_in calibration adds 0.016 GFLOPs",
          "MACs of TAda2D-R50 minus TSN-R50 at 8x224x224 (tolerance 25 %: the table prints 2 digits)",
          Check("tada2d_extra_gflops"), 5, "TAda2D"),
    Claim("tada.identity_init", "tadaconv", "eq. (6)", "a fresh TAdaConv is the plain spatial conv",
          "compare a new TAdaConv+generator with its conv at alpha = 1", Check("tadaconv_identity_at_init"), 5,
          "the calibration generator"),
    Claim("tada.beats_tsn", "tadaconv", "table 3b", "TAda2D beats TSN when motion defines the class",
          "TAda2D vs TSN on Video-MNIST, paired seeds", Run("ch05.ablation", "tada2d", "tsn"), 5, "the ablation"),
    Claim("tada.local_context", "tadaconv", "table 3a (+19 %)", "local temporal context in the generator helps",
          "generator kernels 3,3 vs 1,1, on reading the direction of motion",
          Run("ch05.ablation", "tada_k33_g", "tada_k11_g", "direction_accuracy"), 5, "the ablation"),
    Claim("tada.aggregation", "tadaconv", "table 3b", "temporal aggregation adds to TAdaConv",
          "TAda2D (with aggregation) vs TAdaConv alone", Run("ch05.ablation", "tada2d", "tada_k33_g"), 5, "the ablation"),
    Claim("tada.plugin", "tadaconv", "table 2", "TAdaConv improves R(2+1)D as a plug-in",
          "TAda-R(2+1)D vs R(2+1)D, label='reversal'", Run("ch05.plugin", "tada_r2plus1d", "r2plus1d"), 5,
          "TAdaConv as a plug-in"),
    Claim("tada.temporal_ability", "tadaconv", "table 1 ('T.' ticked)", "TAdaConv models time with 2D convs",
          "TAdaConv in the same backbone as the only time-mixing operator, vs the 50 % bound of 'reversal'",
          Run(_OPS, "tadaconv@reversal", "the 50 % bound"), 8, "the comparison table"),
    Claim("tada.vs_3d", "tadaconv", "table 2 (plug-ins beat their 3D bases)", "TAdaConv is at least as accurate as 3D conv",
          "the two operators in the same backbone, label='reversal'",
          Run(_OPS, "tadaconv@reversal", "conv3d@reversal", expect=NOT_WORSE), 8, "the comparison table"),
    Claim("tada.sota", "tadaconv", "tables 5-6", "TAda2D is state of the art on SSV2 and Kinetics", "—",
          Untestable(_KINETICS), 5, "TAda2D"),
    # ------------------------------------------------------------ Fusion
    Claim("fusion.params", "fusion", "table 1", "the template network has 21.4M parameters",
          "count our DenseNet-121-sized template", Check("template_params"), 6, "the template network"),
    Claim("fusion.positions", "fusion", "fig. 4, supp. fig. 1", "the template has 61 gated positions",
          "count positions and gates of our template", Check("template_positions"), 6, "the template network"),
    Claim("fusion.opt_vs_sst", "fusion", "supp. tables (Opt vs S+ST)", "Opt beats the uniform S+ST strategy",
          "best of n sampled strategies vs a uniform S+ST network, same clips and budget",
          Run("ch06.table2", "opt", "S+ST"), 6, "Opt against uniform strategies"),
    Claim("fusion.opt_vs_st", "fusion", "supp. tables (Opt vs ST)", "Opt beats the uniform ST strategy",
          "best of n sampled strategies vs a uniform ST network", Run("ch06.table2", "opt", "ST"), 6,
          "Opt against uniform strategies"),
    Claim("fusion.st_vs_s", "fusion", "supp. tables (ST vs S)", "spatiotemporal ST units beat spatial-only S",
          "uniform ST vs uniform S network", Run("ch06.table2", "ST", "S"), 6, "Opt against uniform strategies"),
    Claim("fusion.half_rate_spatial", "fusion", "supp. fig. 6", "at half the frame rate the best strategy uses more S",
          "fraction of S units in the best sampled strategy, half vs full frame rate",
          Run("ch06.data_character", "half_rate", "full_rate", "best_S_fraction"), 6, "what the data asks for"),
    Claim("fusion.half_rate_st", "fusion", "supp. fig. 6", "at half the frame rate ST paths are kept less",
          "kept fraction of the template's ST paths, half vs full frame rate",
          Run("ch06.data_character", "half_rate", "full_rate", "st_kept_fraction", expect=WORSE), 6,
          "what the data asks for"),
    Claim("fusion.unit_vs_3d", "fusion", "sec. 4 (S+ST 'mix of 2D and 3D')", "a fused S+ST unit matches a 3D conv",
          "the S+ST unit vs a 3x3x3 conv in the same backbone, label='reversal'",
          Run(_OPS, "fusion_s_st@reversal", "conv3d@reversal", expect=NOT_WORSE), 8, "the comparison table"),
    Claim("fusion.kinetics", "fusion", "tables 3-5", "fusion-searched networks are competitive on Kinetics/SSV1", "—",
          Untestable(_KINETICS), 6, "Opt against uniform strategies"),
)
