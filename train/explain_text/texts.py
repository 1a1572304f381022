"""Default texts: sentence pairs for a sentence-embedding model, reviews for a classifier.

Each pair shares its content words (topic, key nouns and verbs) but not its wording, so
the similarity depends on a few identifiable tokens: the perturbation curve can tell
explanations that find them from ones that do not.
"""

PAIRS = (
    ("A man is playing a guitar on stage.", "A musician performs a song with his guitar."),
    ("The cat is sleeping on the warm sofa.", "A kitten naps on the couch."),
    (
        "Heavy rain flooded the streets of the city.",
        "The town's roads were under water after the storm.",
    ),
    ("She is cooking pasta in the kitchen.", "A woman prepares spaghetti for dinner."),
    ("The stock market fell sharply today.", "Share prices dropped a lot on Wednesday."),
    ("Two children are building a sandcastle on the beach.", "Kids play with sand by the sea."),
    ("The doctor examined the patient's broken arm.", "A physician checked the injured arm."),
    (
        "Scientists discovered a new species of frog in the rainforest.",
        "Researchers found an unknown frog in the jungle.",
    ),
    ("The train to Paris was delayed by two hours.", "Our Paris train arrived very late."),
    (
        "He scored the winning goal in the final minute.",
        "The striker won the football match at the end.",
    ),
    (
        "The telescope captured images of a distant galaxy.",
        "Astronomers photographed a faraway galaxy.",
    ),
    ("A dog is chasing a ball across the park.", "The puppy runs after a ball on the grass."),
    (
        "The bakery sells fresh bread every morning.",
        "You can buy warm loaves at the baker's early.",
    ),
    (
        "The company announced record profits this year.",
        "The firm reported its highest earnings ever.",
    ),
    ("An old woman is knitting a red scarf.", "A grandmother knits a scarf."),
    (
        "The pilot landed the plane safely despite the fog.",
        "The aircraft touched down safely in thick fog.",
    ),
)

REVIEWS = (
    "This was one of the best movies I have ever seen.",
    "The plot was boring and the acting was terrible.",
    "A charming, funny and surprisingly moving film.",
    "I would not recommend this restaurant to anyone.",
)
