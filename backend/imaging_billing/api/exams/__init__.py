"""exams"""
