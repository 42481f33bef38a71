"""The questions a reader of the paper asks of the eVAE, under which the closing chapter
groups every claim the book tests. Each claim names its question where it is declared
(`Evidence.add`, `Judgement.about`), so the chapter that answers them reads one registry."""

UNITS = "units"
PRUNING = "pruning"
GENERATION = "generation"
FIT = "fit"
CAPACITY = "capacity"
EPITOMES = "epitomes"
OTHERS = "others"

# key -> the question, in the order the closing chapter asks them. The claims under UNITS,
# GENERATION and FIT are the paper's claims for the eVAE against the VAE (`answer.helps`).
QUESTIONS = {
    PRUNING: "What holds the VAE back as D grows: is it over-pruning?",
    UNITS: "Does the eVAE keep its units active?",
    GENERATION: "Does the eVAE generate better samples than the VAE?",
    FIT: "Does the eVAE reconstruct and fit the data as well as the VAE?",
    CAPACITY: "What do depth and width do to the VAE?",
    EPITOMES: "What do the epitomes learn?",
    OTHERS: "How do the other remedies compare?",
}


def check(question: str) -> str:
    """The question's key, or a ValueError naming the allowed ones."""
    if question not in QUESTIONS:
        raise ValueError(f"question={question!r} is not one of {', '.join(QUESTIONS)}")
    return question
