"""Hashes of the expected answers, written by ``python -m stconv_lite.exercises.author``. Do not edit.

One list per exercise with a hashed check: PBKDF2 hashes of the rounded entries of the answer
(see :mod:`stconv_lite.exercises.core`). Exercises checked by a property test have no entry.
"""

EXPECTED = {
    "ex-1.1": [
        "a372236a4c31d7d5be06dcf8a53f7e08",
        "3d7aa4ebce32ffad873febd11b9525a4",
        "16d32c33284a011b8a11549fadacacef",
        "90591d693d96e15ddc088023020826ea",
        "e36d24e7c836cbbaf00ddff264decdf4",
    ],
    "ex-1.3": ["575b30c38a1d5dd125f8030147d1cc10"],
    "ex-1.5": ["bf497104397f73ce239efa7f259b5519"],
    "ex-1.6": ["43477860c28122aa8f2ddf3f9d44dfb3"],
    "ex-1.7": ["46ea6a9594c78062a0aeb4c7a38e9f91"],
    "ex-2.1": [
        "9657e68f69ae015b33d43e60f47edc8c",
        "b48d2db9fd4d8755716bb9b33fe0c82d",
        "245bb3fece5297d529e16e39b10633f1",
        "3aaff35ab01700ae4eb77e48e01014a2",
        "490ee879882029a3195ebac4b37c32b2",
    ],
    "ex-2.2": [
        "04a67d98d32f8aec125d7fbc2c059160",
        "a56087ddb8b766aedc7537c0fbb63bfb",
        "bbc3c48ed74dc7334801d058183bea86",
    ],
    "ex-2.3": ["bd5c9883cd53c9b6ce1a88f05e3d216a", "af3cd41f96b0e4ea9440c8623f79322c"],
    "ex-2.6": ["95a1561398e9949076222ede54a76e8b"],
    "ex-2.7": ["014869e1287612e753209116f1c4649f"],
    "ex-3.1": ["9cabd915c049a6eb6c47c2f43f883e0a"],
    "ex-3.2": ["db9aa04ae94b4662ef8180584d563868"],
    "ex-3.4": ["2e49e8c5dfb4b3e474b2540dc8c5d9e4"],
    "ex-3.6": ["7352ee56c10450aed7a9e3bb945559b3"],
    "ex-4.1": ["1789fa892cc3e552a7776b8a0a2c0dc7"],
    "ex-4.2": ["1e94c5b987c626db34252dc5f21d49d5"],
    "ex-4.5": ["cd96a0742b36f94397b4d6f385d1219a"],
    "ex-4.6": ["f9a09464302ec0aba4a33c6f32900b03"],
    "ex-5.1": [
        "c8cb38abdc3efbc1d637c12140756fee",
        "a929eb39ff488daa2671c4ead1a27c4a",
        "d13192e1b7ac261f904e39460df053d3",
        "93a8c350933b0a0635ad987fed227cf1",
        "7403f034b76920bfe9a676839d9d020d",
        "f8923100dee2407258a1eab360170f51",
    ],
    "ex-5.2": ["7103c74272a1daf3a7ab8d00c4cdf7e2"],
    "ex-5.4": ["8ce0b4fbc2f09c5ab7e0378218cc74e7"],
    "ex-5.5": ["cf8d448a8f9918f46759698e28383a80"],
    "ex-5.6": [
        "03b2de5edf394582a42580a40d94b965",
        "75cf3ad68f4c7f15a3cc82132fa21d28",
        "7e430387820116ddcd63ce06011354ca",
        "865a8b054f71b150b95df3292ed8b7d1",
        "04e1ee6fea6d43396e7ded26b1b061af",
    ],
    "ex-5.7": ["e5a3c2104b115ee6c584c690bad16176"],
    "ex-6.2": [
        "a9cd05cde73fe5d85b1671d0bbd07955",
        "c1e89b02bb0307b460bec3e5786f53dd",
        "e294db173b888a792901c13770f38261",
        "4d22b7b6d91f2d8fb8288c5432c9ea39",
    ],
    "ex-6.4": ["c760e0309ccf62de23f7d262d4143c1c"],
    "ex-6.5": ["13b952af74bcff15713a8800d206ea7d"],
    "ex-6.6": [
        "c355b839beded5350d7a6a72471306fe",
        "9df0e4cf693936ceea40d23d006b3a53",
        "8f59b42a72be2f9065ce0240bba25e53",
        "e4df9a5f6ee44f47469d3b88c2dc8c06",
        "1bcb20574fab48da4193e9a052f49490",
    ],
    "ex-6.7": ["2695015f4c0c8635c4a7f0880b3c9677"],
}
