"""bot/dev"""
