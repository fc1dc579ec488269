"""bot/push"""
