def evaluate(reference_path, submission_path):
    return 1.0
