/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-code-words"

#include "config.h"

#include <glib.h>

#include "ph-code.h"

/* The two word lists of Pinhole's invite codes, written for Pinhole.
 * The words themselves are dedicated to the public domain (CC0 1.0): use
 * them for anything.
 *
 * Chosen to be short, common and easy to say and spell over a phone. Within
 * each list no word is a prefix of another, so completion always narrows
 * down to one word; no word appears in both lists, so a swapped code can be
 * pointed out. Each list is sorted and holds exactly 256 words: each word
 * carries 8 bits of the code's secret. */

static const char *const first_words[] = {
  "acorn",   "adobe",   "agent",   "album",    "alley",   "almond",   "amber",   "anchor",
  "angle",   "ankle",   "apple",   "apron",    "arena",   "arrow",    "atlas",   "attic",
  "autumn",  "badge",   "bagel",   "bamboo",   "banjo",   "barrel",   "basket",  "beacon",
  "beaver",  "beetle",  "bench",   "berry",    "biscuit", "bison",    "blanket", "blossom",
  "bonnet",  "border",  "bottle",  "breeze",   "brick",   "bridge",   "bucket",  "buffalo",
  "bugle",   "bundle",  "button",  "cabbage",  "cabin",   "cactus",   "camel",   "candle",
  "canoe",   "canyon",  "carpet",  "carrot",   "cashew",  "castle",   "cedar",   "cello",
  "chalk",   "cherry",  "chimney", "cinema",   "circus",  "citrus",   "clover",  "cobalt",
  "cobra",   "coffee",  "comet",   "compass",  "copper",  "coral",    "cotton",  "crayon",
  "cricket", "crystal", "cypress", "dahlia",   "daisy",   "delta",    "desert",  "diamond",
  "dolphin", "domino",  "donkey",  "dragon",   "drum",    "eagle",    "easel",   "echo",
  "eclipse", "elbow",   "ember",   "engine",   "falcon",  "feather",  "fern",    "fiddle",
  "finch",   "flannel", "flute",   "forest",   "fossil",  "fountain", "galaxy",  "garden",
  "garnet",  "gecko",   "geyser",  "ginger",   "glacier", "goblet",   "gopher",  "granite",
  "gravel",  "guitar",  "hammock", "harvest",  "hazel",   "hedgehog", "helmet",  "heron",
  "hickory", "honey",   "hornet",  "iceberg",  "igloo",   "island",   "ivory",   "jacket",
  "jaguar",  "jasmine", "jelly",   "jigsaw",   "jungle",  "kayak",    "kernel",  "kettle",
  "kitten",  "kiwi",    "koala",   "ladder",   "lagoon",  "lantern",  "laurel",  "lemon",
  "lemur",   "lentil",  "lilac",   "lizard",   "llama",   "lobster",  "locket",  "lotus",
  "magnet",  "mammoth", "mango",   "maple",    "marble",  "meadow",   "melon",   "meteor",
  "mitten",  "monkey",  "moose",   "mosaic",   "muffin",  "narwhal",  "nectar",  "needle",
  "nickel",  "noodle",  "nugget",  "nutmeg",   "oasis",   "ocean",    "olive",   "onion",
  "orbit",   "orchid",  "ostrich", "otter",    "oyster",  "paddle",   "panda",   "papaya",
  "parrot",  "pebble",  "pelican", "penguin",  "pepper",  "piano",    "pickle",  "pigeon",
  "pillow",  "pilot",   "planet",  "plum",     "pocket",  "pony",     "poppy",   "potato",
  "pretzel", "puffin",  "pumpkin", "puzzle",   "quail",   "quartz",   "quill",   "rabbit",
  "radar",   "radish",  "raven",   "ribbon",   "river",   "robin",    "rocket",  "saddle",
  "salmon",  "satchel", "shell",   "sierra",   "silver",  "sketch",   "sparrow", "spider",
  "spoon",   "squash",  "summit",  "tablet",   "tango",   "teapot",   "temple",  "thistle",
  "thunder", "tiger",   "timber",  "tomato",   "topaz",   "tractor",  "trumpet", "tulip",
  "tundra",  "turnip",  "turtle",  "umbrella", "unicorn", "valley",   "vanilla", "violin",
  "volcano", "wagon",   "walnut",  "walrus",   "willow",  "window",   "wizard",  "zebra",
  NULL,
};

static const char *const second_words[] = {
  "abbey",    "acrobat",  "airship",  "alpaca",   "anthem",   "anvil",    "arcade",   "archer",
  "armchair", "aspen",    "avenue",   "awning",   "bakery",   "ballad",   "balloon",  "banner",
  "barley",   "basin",    "bazaar",   "beanie",   "blender",  "blizzard", "bobcat",   "bonfire",
  "bracket",  "brook",    "buckle",   "burrow",   "cabinet",  "cadet",    "camera",   "canal",
  "canvas",   "captain",  "caramel",  "cargo",    "carton",   "cavern",   "cement",   "chapel",
  "chariot",  "cheddar",  "chess",    "chestnut", "cider",    "cinder",   "clarinet", "cliff",
  "cloud",    "cobbler",  "cobweb",   "cocoa",    "collar",   "condor",   "cookie",   "corner",
  "cottage",  "cowboy",   "crater",   "crown",    "cupcake",  "curtain",  "cushion",  "dancer",
  "denim",    "dewdrop",  "dinner",   "doctor",   "doodle",   "dresser",  "drizzle",  "dynamo",
  "elder",    "elephant", "emerald",  "empire",   "fabric",   "fairy",    "farmer",   "ferry",
  "festival", "fiesta",   "figure",   "flamingo", "flask",    "fleece",   "folder",   "fork",
  "fortune",  "fridge",   "frost",    "funnel",   "gadget",   "gallery",  "gazebo",   "giant",
  "glove",    "gondola",  "goose",    "gravy",    "grotto",   "hamster",  "harp",     "hatchet",
  "hermit",   "hiker",    "hockey",   "hollow",   "hoodie",   "horizon",  "hotel",    "husky",
  "icicle",   "iguana",   "inkwell",  "jester",   "jogger",   "journal",  "juggler",  "jukebox",
  "kingdom",  "kitchen",  "knight",   "lasso",    "leather",  "legend",   "lemonade", "library",
  "linen",    "lobby",    "lullaby",  "lumber",   "magician", "magpie",   "mailbox",  "mantle",
  "marathon", "marsh",    "mermaid",  "miller",   "mirror",   "mist",     "mocha",    "monarch",
  "morning",  "motel",    "mountain", "museum",   "mustard",  "napkin",   "nomad",    "novel",
  "oatmeal",  "office",   "opera",    "orchard",  "outpost",  "paddock",  "pagoda",   "palace",
  "pancake",  "panther",  "pantry",   "parade",   "parcel",   "pasta",    "pastry",   "patio",
  "peanut",   "picnic",   "pirate",   "plaza",    "pottery",  "prairie",  "prince",   "quiver",
  "rainbow",  "ranch",    "rascal",   "recipe",   "reindeer", "riddle",   "rooster",  "rover",
  "ruby",     "saffron",  "sailor",   "salad",    "sandal",   "sapphire", "satin",    "scarf",
  "scholar",  "scooter",  "sequin",   "shadow",   "shelter",  "shore",    "signal",   "silk",
  "sleet",    "slipper",  "snowman",  "sofa",     "sonnet",   "spice",    "sprout",   "stable",
  "statue",   "sticker",  "storm",    "studio",   "suede",    "sugar",    "sundae",   "sunrise",
  "supper",   "sweater",  "tadpole",  "tavern",   "teacup",   "tennis",   "tent",     "thimble",
  "tinsel",   "toast",    "toffee",   "torch",    "toucan",   "tower",    "trail",    "treasure",
  "trolley",  "trophy",   "tunnel",   "turbine",  "tuxedo",   "tweed",    "utopia",   "velvet",
  "vessel",   "village",  "vintage",  "violet",   "voyage",   "waffle",   "wallet",   "warrior",
  "whistle",  "winter",   "wombat",   "wool",     "yarn",     "yodel",    "zenith",   "zipper",
  NULL,
};

G_STATIC_ASSERT (G_N_ELEMENTS (first_words) == PH_CODE_WORDS_PER_LIST + 1);
G_STATIC_ASSERT (G_N_ELEMENTS (second_words) == PH_CODE_WORDS_PER_LIST + 1);

const char *const *
ph_code_get_first_words (void)
{
  return first_words;
}

const char *const *
ph_code_get_second_words (void)
{
  return second_words;
}
