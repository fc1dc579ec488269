"""bot/wechat"""
